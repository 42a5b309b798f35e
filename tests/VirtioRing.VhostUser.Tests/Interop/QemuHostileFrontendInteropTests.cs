using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using System.Threading;
using Microsoft.Extensions.Logging;
using VhostUserNet;
using VirtioRing.Linux;
using VirtioRing.Net;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Tests.Infrastructure;
using VirtioRing.VhostUser.Transport;
using Xunit;
using Xunit.Abstractions;

namespace VirtioRing.VhostUser.Tests.Interop;

/// <summary>
/// Issue 7, interop test 3: a hostile front-end on the same daemon as two real guests. The daemon serves three
/// sockets on one switch; while guests A and B (QEMU, Linux) ping and run iperf3 on the first two, the test's own
/// front-end connects to the third again and again with every bad input of <see cref="BadInputTests"/>: malformed,
/// truncated and oversized messages, missing and extra fds, fds that are not eventfds, ring addresses outside the
/// memory, kicks on queues never set up, and hostile rings (descriptor loops, huge lengths, buffers outside the
/// memory, an available index a ring ahead). Afterwards a well-behaved front-end on the third socket exchanges ARP
/// with guest A through the switch.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class QemuHostileFrontendInteropTests(ITestOutputHelper output)
{
    private const string OwnAddress = "192.0.2.3";
    private static readonly MacAddress OwnMac = MacAddress.Parse("52:54:00:00:00:03");
    private static readonly MacAddress MacA = MacAddress.Parse("52:54:00:00:00:01");
    private static readonly byte[] OwnIp = [192, 0, 2, 3];
    private static readonly byte[] IpA = [192, 0, 2, 1];

    [QemuInteropFact]
    public void HostileFrontendOnThirdSocket_GuestsKeepPassingTraffic_ThirdDeviceServesAGoodSessionAfter()
    {
        string dir = Directory.CreateTempSubdirectory("vr-interop-").FullName;
        string[] sockets = [Path.Combine(dir, "a.sock"), Path.Combine(dir, "b.sock"), Path.Combine(dir, "hostile.sock")];
        var logs = new ListLogger();
        using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddProvider(new QemuSwitchInteropTests.ListLoggerProvider(logs)));
        var clock = Stopwatch.StartNew();
        _ = GuestImage.Directory;
        try
        {
            using (var daemon = new VhostUserDaemon(new DaemonOptions(sockets, 1, DaemonBackend.Switch, false, TimeSpan.Zero, TimeSpan.Zero), loggers))
            {
                daemon.Start();
                NetFeatures offered = daemon.Devices[2].Device.OfferedFeatures;
                const int Seconds = 10;   // iperf3 runs long enough to overlap many hostile sessions
                using QemuGuest a = QemuGuest.Start("a", sockets[0], QemuSwitchInteropTests.Prologue("a", 1, Seconds, OwnAddress) + QemuSwitchInteropTests.ScriptA, MacA.ToString(), 1, false, true, false, QemuSwitchInteropTests.GuestTimeoutSeconds);
                using QemuGuest b = QemuGuest.Start("b", sockets[1], QemuSwitchInteropTests.Prologue("b", 1, Seconds) + QemuSwitchInteropTests.ScriptB, "52:54:00:00:00:02", 1, false, true, false, QemuSwitchInteropTests.GuestTimeoutSeconds);
                Func<string> diagnostics = () => a.Diagnostics() + "\n" + b.Diagnostics() + "\n--- daemon ---\n" + string.Join("\n", logs.Entries);

                // Hostile sessions, round after round, until B has sent its last byte (at least one full round).
                BadInputTests.BadCase[] badCases = Enum.GetValues<BadInputTests.BadCase>();
                BadInputTests.HostileRing[] rings = Enum.GetValues<BadInputTests.HostileRing>();
                TimeSpan bound = TimeSpan.FromSeconds(QemuSwitchInteropTests.GuestTimeoutSeconds + 30);
                int rounds = 0, protocolSessions = 0, ringSessions = 0;
                int? statusB = null;
                using (var shared = new VhostGuest(offered, packed: false))
                {
                    do
                    {
                        foreach (BadInputTests.BadCase bad in badCases)
                        {
                            ProtocolSession(sockets[2], daemon.Devices[2], shared, bad, logs, diagnostics);
                            protocolSessions++;
                            Thread.Sleep(20);   // leave the guests' vCPUs some of the 2 cores
                        }

                        foreach (BadInputTests.HostileRing ring in rings)
                        {
                            RingSession(sockets[2], offered, ring, logs, diagnostics);
                            ringSessions++;
                            Thread.Sleep(20);
                        }

                        rounds++;
                        statusB = b.Wait(TimeSpan.Zero);
                    }
                    while (statusB is null && clock.Elapsed < bound);
                }

                output.WriteLine($"{rounds} hostile round(s): {protocolSessions} protocol sessions, {ringSessions} hostile-ring sessions, until {clock.Elapsed.TotalSeconds:F1} s");
                statusB ??= b.Wait(bound);
                Assert.True(statusB == 0, $"B={QemuSwitchInteropTests.Show(statusB)}\n{diagnostics()}");

                // The third device after all that: a well-behaved front-end (packed rings this time) asks A for its MAC.
                TimeSpan arp = GoodSession(sockets[2], offered, diagnostics);
                output.WriteLine($"good session on the third socket: ARP reply from A after {arp.TotalMilliseconds:F0} ms");

                int? statusA = a.Wait(bound);
                output.WriteLine($"guests done after {clock.Elapsed.TotalSeconds:F1} s: A={QemuSwitchInteropTests.Show(statusA)} B={QemuSwitchInteropTests.Show(statusB)}");
                output.WriteLine(a.ConsoleLines("VR-", "receiver") + b.ConsoleLines("VR-", "sender"));
                output.WriteLine(daemon.FormatCounters());
                Assert.True(statusA == 0, $"A={QemuSwitchInteropTests.Show(statusA)}\n{diagnostics()}");

                // The guests' devices: traffic both ways, one session each from start to end (never dropped), no error.
                for (int i = 0; i < 2; i++)
                {
                    DaemonDevice d = daemon.Devices[i];
                    long[] packets = PairRecorder.Packets(d);
                    Assert.True(d.Device.GetCounters(0).Packets > 0 && d.Device.GetCounters(1).Packets > 0, $"{d.Name}: {packets[0]} packets\n{diagnostics()}");
                    Assert.Equal(1, QemuSwitchInteropTests.CountEntries(logs, $"vhost-user {d.Name}: session started"));
                    Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning && e.Message.Contains(d.Name + ":", StringComparison.Ordinal));
                }

                Assert.Equal(protocolSessions, CountErrors(logs));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            output.WriteLine($"total {clock.Elapsed.TotalSeconds:F1} s");
        }
    }

    /// <summary>One session with one bad input: the daemon logs an error and closes the connection.</summary>
    private static void ProtocolSession(string socket, DaemonDevice device, VhostGuest guest, BadInputTests.BadCase bad, ListLogger logs, Func<string> diagnostics)
    {
        int errors = CountErrors(logs);
        using var frontend = new TestFrontend(VhostUserConnector.Connect(socket)) { Diagnostics = diagnostics };
        Exception? ended = BadInputTests.Drive(frontend, guest, f => BadInputTests.Provoke(f, guest, bad));
        string state = $"(the exchange ended with: {ended?.Message ?? "nothing"}; {device.Name}: running {device.Device.IsRunning}, "
            + $"{device.Device.ActivePairs} pair(s), needs reset {device.Device.NeedsReset}, serving {device.Backend.IsServing})";
        Assert.True(frontend.WaitForClose(10_000), $"{bad}: the daemon did not close the connection {state}\n{diagnostics()}");
        Assert.True(SpinWait.SpinUntil(() => CountErrors(logs) > errors, 10_000), $"{bad}: no error logged {state}\n{diagnostics()}");
    }

    /// <summary>
    /// One session with a hostile transmit ring: the queue breaks, logged, reported on the error eventfd and as
    /// DEVICE_NEEDS_RESET; the front-end then ends the session, as a driver resets a device that needs it.
    /// </summary>
    private static void RingSession(string socket, NetFeatures offered, BadInputTests.HostileRing ring, ListLogger logs, Func<string> diagnostics)
    {
        int broken = QemuSwitchInteropTests.CountEntries(logs, "vhost-user vu2: queue 1 broke");
        using var guest = new VhostGuest(offered, packed: false);   // fresh rings each time
        using var err = new EventFd();
        using var frontend = new TestFrontend(VhostUserConnector.Connect(socket)) { Diagnostics = diagnostics };
        EndToEndTests.Negotiate(frontend, guest);
        BadInputTests.ProvokeRing(frontend, guest, err, ring);
        Assert.True(QemuSwitchInteropTests.CountEntries(logs, "vhost-user vu2: queue 1 broke") > broken, $"{ring}: not logged\n{diagnostics()}");
    }

    /// <summary>A clean session: negotiate, start packed rings, send an ARP request for A, wait for A's reply; returns how long that took.</summary>
    private static TimeSpan GoodSession(string socket, NetFeatures offered, Func<string> diagnostics)
    {
        using var guest = new VhostGuest(offered, packed: true);
        using var frontend = new TestFrontend(VhostUserConnector.Connect(socket)) { Diagnostics = diagnostics };
        EndToEndTests.Negotiate(frontend, guest);
        guest.StartRings(frontend);
        guest.Driver.Bind(guest.Rings, guest.Kicks);
        Assert.Equal(0UL, frontend.GetU64(VhostUserRequest.GetStatus) & 0x40);   // no DEVICE_NEEDS_RESET left over

        byte[] request = ArpRequest();
        byte[] received = new byte[2048];
        var clock = Stopwatch.StartNew();
        TimeSpan lastSent = TimeSpan.FromSeconds(-1);
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (clock.Elapsed - lastSent >= TimeSpan.FromSeconds(1))
            {
                guest.Driver.ReclaimTransmitted(0);
                Assert.True(guest.Driver.TrySend(0, request, default), "the ARP request could not be queued");
                lastSent = clock.Elapsed;
            }

            if (guest.Driver.TryReceive(0, received, out _, out int length))
            {
                if (IsArpReplyFromA(received.AsSpan(0, length)))
                {
                    return clock.Elapsed;
                }

                continue;   // something else (B's broadcasts): the switch floods to every port
            }

            if (!guest.Driver.EnableUsedNotifications(0))
            {
                guest.Calls[0].Read(50, out _);
            }
        }

        Assert.Fail($"no ARP reply from A within 30 s\n{diagnostics()}");
        return default;
    }

    /// <summary>Ethernet broadcast, ARP request (RFC 826): who has 192.0.2.1, tell 192.0.2.3; padded to 60 bytes.</summary>
    private static byte[] ArpRequest()
    {
        byte[] f = new byte[60];
        MacAddress.Broadcast.WriteTo(f);
        OwnMac.WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 1);        // hardware: Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800);   // protocol: IPv4
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), 1);        // request
        OwnMac.WriteTo(f.AsSpan(22));
        OwnIp.CopyTo(f, 28);
        IpA.CopyTo(f, 38);
        return f;
    }

    private static bool IsArpReplyFromA(ReadOnlySpan<byte> f) =>
        f.Length >= 42
        && MacAddress.Read(f).Equals(OwnMac)
        && BinaryPrimitives.ReadUInt16BigEndian(f.Slice(12)) == 0x0806
        && BinaryPrimitives.ReadUInt16BigEndian(f.Slice(20)) == 2      // reply
        && MacAddress.Read(f.Slice(22)).Equals(MacA)
        && f.Slice(28, 4).SequenceEqual(IpA);

    private static int CountErrors(ListLogger logs)
    {
        int n = 0;
        foreach ((LogLevel level, string message) in logs.Entries)
        {
            n += level == LogLevel.Error && message.Contains("vhost-user vu2: protocol error", StringComparison.Ordinal) ? 1 : 0;
        }

        return n;
    }
}
