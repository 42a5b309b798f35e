using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using Microsoft.Extensions.Logging;
using VhostUserNet;
using VirtioRing.Net;
using VirtioRing.Net.Engine;
using VirtioRing.VhostUser.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace VirtioRing.VhostUser.Tests.Interop;

/// <summary>
/// Two Linux guests under QEMU (TCG), each with its own virtio-net driver, on two sockets of one VhostUserNet
/// daemon (in-process) whose switch joins them: ARP and ping both ways, then an iperf3 TCP transfer from B to A.
/// CI runs split/1 pair/mergeable and packed/2 pairs/not mergeable; VIRTIORING_INTEROP_FULL=1 runs all eight.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class QemuSwitchInteropTests(ITestOutputHelper output)
{
    private const int GuestTimeoutSeconds = 90;

    // Guest A (192.0.2.1): iperf3 server for one test, pings B until it answers (ARP both ways), waits for the transfer.
    private const string ScriptA = """
        ip addr add 192.0.2.1/24 dev eth0 && ip link set eth0 up || exit 10
        if [ "$VR_QUEUES" -gt 1 ]; then ethtool -L eth0 combined "$VR_QUEUES" || exit 11; ethtool -l eth0; fi
        iperf3 -s -1 > /tmp/iperf.log 2>&1 &
        srv=$!
        i=0; until ping -c 1 -W 1 192.0.2.2 > /dev/null 2>&1; do i=$((i+1)); [ $i -ge 60 ] && { echo "VR-FAIL A: no reply from B"; exit 12; }; done
        ping -c 3 -W 2 192.0.2.2 || exit 13
        i=0; while kill -0 $srv 2>/dev/null; do sleep 1; i=$((i+1)); [ $i -ge 60 ] && { cat /tmp/iperf.log; echo "VR-FAIL A: no transfer"; exit 14; }; done
        wait $srv; rc=$?
        cat /tmp/iperf.log
        exit $rc
        """;

    // Guest B (192.0.2.2): pings A until it answers, then sends 3 s of TCP in 4 streams (spread over the pairs).
    private const string ScriptB = """
        ip addr add 192.0.2.2/24 dev eth0 && ip link set eth0 up || exit 20
        if [ "$VR_QUEUES" -gt 1 ]; then ethtool -L eth0 combined "$VR_QUEUES" || exit 21; fi
        i=0; until ping -c 1 -W 1 192.0.2.1 > /dev/null 2>&1; do i=$((i+1)); [ $i -ge 60 ] && { echo "VR-FAIL B: no reply from A"; exit 22; }; done
        ping -c 3 -W 2 192.0.2.1 || exit 23
        sleep 1
        i=0; until iperf3 -c 192.0.2.1 -t 3 -P 4 > /tmp/iperf.log 2>&1; do i=$((i+1)); [ $i -ge 3 ] && { cat /tmp/iperf.log; echo "VR-FAIL B: iperf3"; exit 24; }; sleep 1; done
        cat /tmp/iperf.log
        """;

    public static TheoryData<bool, int, bool, bool> Matrix()
    {
        var data = new TheoryData<bool, int, bool, bool>();
        if (Environment.GetEnvironmentVariable("VIRTIORING_INTEROP_FULL") is { Length: > 0 } and not "0")
        {
            foreach (bool packed in new[] { false, true })
            {
                foreach (int queues in new[] { 1, 2 })
                {
                    foreach (bool mergeable in new[] { true, false })
                    {
                        data.Add(packed, queues, mergeable, false);
                    }
                }
            }
        }
        else
        {
            data.Add(false, 1, true, false);
            data.Add(true, 2, false, false);
            return data;
        }

        // The daemon's reconnecting client mode (QEMU listens): full runs only.
        data.Add(false, 1, true, true);
        data.Add(true, 2, false, true);

        return data;
    }

    [QemuInteropTheory]
    [MemberData(nameof(Matrix))]
    public void TwoGuestsOnSwitch_PingBothWaysAndTcpTransfer_Succeed(bool packed, int queues, bool mergeable, bool client)
    {
        string dir = Directory.CreateTempSubdirectory("vr-interop-").FullName;
        string[] sockets = [Path.Combine(dir, "a.sock"), Path.Combine(dir, "b.sock")];
        var logs = new ListLogger();
        using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddProvider(new ListLoggerProvider(logs)));
        var clock = Stopwatch.StartNew();
        _ = GuestImage.Directory;   // built once per run, before the clock of the guests matters
        output.WriteLine($"image ready after {clock.Elapsed.TotalSeconds:F1} s");
        try
        {
            using (var daemon = new VhostUserDaemon(new DaemonOptions(sockets, queues, DaemonBackend.Switch, client, TimeSpan.Zero, TimeSpan.Zero), loggers))
            {
                daemon.Start();
                string prologue = $"VR_QUEUES={queues}\n";
                using QemuGuest a = QemuGuest.Start("a", sockets[0], prologue + ScriptA, "52:54:00:00:00:01", queues, packed, mergeable, client, GuestTimeoutSeconds);
                using QemuGuest b = QemuGuest.Start("b", sockets[1], prologue + ScriptB, "52:54:00:00:00:02", queues, packed, mergeable, client, GuestTimeoutSeconds);
                TimeSpan bound = TimeSpan.FromSeconds(GuestTimeoutSeconds + 30);
                int? statusB = b.Wait(bound);
                int? statusA = a.Wait(bound);
                output.WriteLine($"guests done after {clock.Elapsed.TotalSeconds:F1} s: A={Show(statusA)} B={Show(statusB)}");
                output.WriteLine(daemon.FormatCounters());
                string diagnostics = a.Diagnostics() + "\n" + b.Diagnostics() + "\n--- daemon ---\n" + string.Join("\n", logs.Entries);
                Assert.True(statusA == 0 && statusB == 0, $"A={statusA} B={statusB}\n{diagnostics}");

                long[] pairPackets = new long[queues];
                foreach (DaemonDevice d in daemon.Devices)
                {
                    long rx = 0, tx = 0;
                    for (int p = 0; p < queues; p++)
                    {
                        NetQueueCounters r = d.Device.GetCounters(2 * p);
                        NetQueueCounters t = d.Device.GetCounters((2 * p) + 1);
                        output.WriteLine($"{d.Name} pair {p}: rx {r}; tx {t}");
                        rx += r.Packets;
                        tx += t.Packets;
                        pairPackets[p] += r.Packets + t.Packets;
                    }

                    Assert.True(rx > 0 && tx > 0, $"{d.Name}: rx {rx} tx {tx}\n{diagnostics}");
                }

                // Traffic on more than one pair: the guests spread their streams over the pairs ethtool -L enabled.
                for (int p = 0; p < queues; p++)
                {
                    Assert.True(pairPackets[p] > 0, $"no frame on pair {p}\n{diagnostics}");
                }
            }

            // The daemon removed its listening sockets (in client mode QEMU owns them, and removes them itself).
            Assert.False(!client && (File.Exists(sockets[0]) || File.Exists(sockets[1])), "a socket file was left behind");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            output.WriteLine($"total {clock.Elapsed.TotalSeconds:F1} s");
        }
    }

    private static string Show(int? status) =>
        status is { } s ? s.ToString(System.Globalization.CultureInfo.InvariantCulture) : "timeout";

    private sealed class ListLoggerProvider(ListLogger logger) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => logger;

        public void Dispose()
        {
        }
    }
}
