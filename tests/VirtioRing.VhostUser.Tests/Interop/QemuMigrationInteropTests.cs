using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading;
using Microsoft.Extensions.Logging;
using VhostUserNet;
using VirtioRing.Net.Engine;
using VirtioRing.VhostUser.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace VirtioRing.VhostUser.Tests.Interop;

/// <summary>
/// Live migration by QEMU of a Linux guest whose virtio-net device is served by the VhostUserNet daemon: guest A
/// pings guest B (both on the daemon's switch) while QEMU migrates A to a file (<c>migrate exec:cat &gt; /dev/null</c>
/// over QMP). QEMU shares its dirty log (<c>SET_LOG_BASE</c>), turns <c>VHOST_F_LOG_ALL</c> and
/// <c>VHOST_VRING_F_LOG</c> on and off on the running device, and stops the rings at the end; the migration must
/// complete, the back-end must log while it runs, and after <c>cont</c> A must go on exchanging pings with B.
/// CI runs split rings; VIRTIORING_INTEROP_FULL=1 packed too.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class QemuMigrationInteropTests(ITestOutputHelper output)
{
    private const int GuestTimeoutSeconds = 240;

    // Each guest pings the other until it answers, then keeps pinging (the test ends QEMU).
    private const string Script = """
        ip addr add "$VR_SELF/24" dev eth0 && ip link set eth0 up || exit 10
        i=0; until ping -c 1 -W 1 "$VR_PEER" > /dev/null 2>&1; do i=$((i+1)); [ $i -ge 90 ] && { echo "VR-FAIL: no reply"; exit 12; }; done
        echo VR-READY
        while true; do ping -c 1 -W 1 "$VR_PEER" > /dev/null 2>&1 && echo VR-PING-OK; sleep 0.3; done
        """;

    public static TheoryData<bool> Rings()
    {
        var data = new TheoryData<bool> { false };
        if (Environment.GetEnvironmentVariable("VIRTIORING_INTEROP_FULL") is { Length: > 0 } and not "0")
        {
            data.Add(true);
        }

        return data;
    }

    [QemuInteropTheory]
    [MemberData(nameof(Rings))]
    public void LiveMigration_GuestOnDaemon_CompletesAndGuestStillPingsAfterwards(bool packed)
    {
        string dir = Directory.CreateTempSubdirectory("vr-interop-mig-").FullName;
        string[] sockets = [Path.Combine(dir, "a.sock"), Path.Combine(dir, "b.sock")];
        string qmpPath = Path.Combine(dir, "a.qmp");
        var logs = new ListLogger();
        using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddProvider(new QemuSwitchInteropTests.ListLoggerProvider(logs)));
        var clock = Stopwatch.StartNew();
        _ = GuestImage.Directory;
        try
        {
            using var daemon = new VhostUserDaemon(new DaemonOptions(sockets, 1, DaemonBackend.Switch, false, TimeSpan.Zero, TimeSpan.Zero), loggers);
            daemon.Start();
            DaemonDevice devA = daemon.Devices.Single(d => d.Socket == sockets[0]);
            DaemonDevice devB = daemon.Devices.Single(d => d.Socket == sockets[1]);
            using QemuGuest a = QemuGuest.Start("a", sockets[0], "VR_SELF=192.0.2.1 VR_PEER=192.0.2.2\n" + Script, "52:54:00:00:00:01", 1, packed, true, false, GuestTimeoutSeconds, qmpPath);
            using QemuGuest b = QemuGuest.Start("b", sockets[1], "VR_SELF=192.0.2.2 VR_PEER=192.0.2.1\n" + Script, "52:54:00:00:00:02", 1, packed, true, false, GuestTimeoutSeconds);
            string Diagnostics() => a.Diagnostics() + "\n" + b.Diagnostics() + "\n--- daemon ---\n" + string.Join("\n", logs.Entries);

            // Both guests up and pinging each other through the switch.
            Assert.True(WaitFor(() => Packets(devA) is { Rx: > 8, Tx: > 8 } && Packets(devB) is { Rx: > 8, Tx: > 8 }, TimeSpan.FromSeconds(150)), "the guests never exchanged pings\n" + Diagnostics());
            output.WriteLine($"guests pinging after {clock.Elapsed.TotalSeconds:F1} s");

            using Qmp qmp = Qmp.Connect(qmpPath);
            qmp.Execute("qmp_capabilities");
            qmp.Execute("migrate-set-parameters", """{"max-bandwidth": 1073741824, "downtime-limit": 2000}""");

            // Sample the back-end's logging state while the migration runs (QEMU turns it on and off again).
            bool sawLogging = false;
            using var stop = new CancellationTokenSource();
            var sampler = new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    sawLogging |= devA.Backend.IsLogging;
                    Thread.Sleep(1);
                }
            });
            sampler.Start();
            qmp.Execute("migrate", """{"uri": "exec:cat > /dev/null"}""");
            string status = "";
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < TimeSpan.FromSeconds(120))
            {
                status = qmp.Execute("query-migrate").GetProperty("status").GetString() ?? "";
                if (status is "completed" or "failed" or "cancelled")
                {
                    break;
                }

                Thread.Sleep(200);
            }

            stop.Cancel();
            sampler.Join();
            output.WriteLine($"migration {status} after {deadline.Elapsed.TotalSeconds:F1} s; back-end logged: {sawLogging}");
            Assert.True(status == "completed", $"migration {status}\n{Diagnostics()}");
            Assert.True(sawLogging, "the back-end never logged during the migration\n" + Diagnostics());

            // The source stays paused after a completed migration; resume it: the rings start again on the daemon.
            Assert.Equal("postmigrate", qmp.Execute("query-status").GetProperty("status").GetString());
            ((long Rx, long Tx) A, (long Rx, long Tx) B) before = (Packets(devA), Packets(devB));
            qmp.Execute("cont");
            bool pinging = WaitFor(
                () => Packets(devA).Rx >= before.A.Rx + 6 && Packets(devA).Tx >= before.A.Tx + 6 && Packets(devB).Rx >= before.B.Rx + 6,
                TimeSpan.FromSeconds(60));
            output.WriteLine($"after cont: A {Packets(devA)} (was {before.A}), B {Packets(devB)} (was {before.B})");
            Assert.True(pinging, "A does not exchange pings with B after the migration\n" + Diagnostics());

            // QEMU stopped the rings with VHOST_F_LOG_ALL still set and restarted them without it.
            Assert.False(devA.Backend.IsLogging, "still logging after the restart");
            Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Error);
            try
            {
                qmp.Execute("quit");
            }
            catch (IOException)
            {
                // QEMU may close the monitor before it answers.
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            output.WriteLine($"total {clock.Elapsed.TotalSeconds:F1} s");
        }
    }

    private static (long Rx, long Tx) Packets(DaemonDevice d) => (d.Device.GetCounters(0).Packets, d.Device.GetCounters(1).Packets);

    private static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                return false;
            }

            Thread.Sleep(200);
        }

        return true;
    }

    /// <summary>A minimal QMP client: one command at a time, events skipped.</summary>
    private sealed class Qmp : IDisposable
    {
        private readonly Socket _socket;
        private readonly StreamReader _reader;
        private readonly StreamWriter _writer;

        private Qmp(Socket socket)
        {
            _socket = socket;
            var stream = new NetworkStream(socket, ownsSocket: false);
            _reader = new StreamReader(stream);
            _writer = new StreamWriter(stream) { AutoFlush = true, NewLine = "\n" };
            _socket.ReceiveTimeout = 30_000;
            Assert.Contains("\"QMP\"", _reader.ReadLine() ?? "", StringComparison.Ordinal);   // the greeting
        }

        public static Qmp Connect(string path)
        {
            var clock = Stopwatch.StartNew();
            while (true)
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    socket.Connect(new UnixDomainSocketEndPoint(path));
                    return new Qmp(socket);
                }
                catch (SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(30))
                {
                    socket.Dispose();
                    Thread.Sleep(200);
                }
            }
        }

        public JsonElement Execute(string command, string? arguments = null)
        {
            _writer.WriteLine(arguments is null ? $"{{\"execute\": \"{command}\"}}" : $"{{\"execute\": \"{command}\", \"arguments\": {arguments}}}");
            while (true)
            {
                string line = _reader.ReadLine() ?? throw new IOException($"QMP closed during {command}");
                using JsonDocument doc = JsonDocument.Parse(line);
                if (doc.RootElement.TryGetProperty("return", out JsonElement r))
                {
                    return r.Clone();
                }

                if (doc.RootElement.TryGetProperty("error", out JsonElement e))
                {
                    throw new InvalidOperationException($"QMP {command}: {e}");
                }

                // An event ("event": ...): not the answer.
            }
        }

        public void Dispose()
        {
            _reader.Dispose();
            _writer.Dispose();
            _socket.Dispose();
        }
    }
}
