using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using VirtioRing.Linux;
using VirtioRing.Net;
using VirtioRing.Net.Engine;
using VirtioRing.Net.Switching;
using VirtioRing.VhostUser.Backend;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Xunit;
using Xunit.Abstractions;

namespace VirtioRing.VhostUser.Tests.Interop;

/// <summary>
/// DPDK's virtio-user driver (a front-end nobody here wrote) against our vhost-user back-end: testpmd A in
/// <c>txonly</c> → device A → the peer-guest switch → device B → testpmd B in <c>rxonly</c>, split and packed rings,
/// two queue pairs each (issue 7, interop item 2). testpmd A sends many flows (<c>--txonly-multi-flow</c>: the IPv4
/// source address changes from frame to frame), so both directions are multiqueue: A transmits on its two queues
/// (testpmd's forwarding streams), and device B steers each flow it never transmitted to a receive queue by its hash
/// (automatic steering, virtio 1.2 §5.1.6.5.6; the switch gives no queue hint without <c>BindPeerQueues</c>), so
/// both of B's receive queues see frames.
/// </summary>
/// <remarks>
/// <para><b>What must match</b> (the switch is lossless: a frame B cannot take now is held in A's transmit chain,
/// so A's ring fills and testpmd's <c>tx_burst</c> takes fewer; nothing is dropped anywhere it is not counted):</para>
/// <code>
/// testpmd A port opackets
///   == device A transmit packets (virtqueues 1 and 3)
///   == switch port A ReceivedFrames
///   == switch port B ForwardedFrames
///   == device B receive packets (virtqueues 0 and 2)
///   == testpmd B port ipackets
/// </code>
/// <para>and every drop counter on the way is 0: switch ports (filtered, no buffers, no route, queue down, bad frame),
/// device A transmit (bad header, backend dropped, bad frame, broken), device B receive (filtered, bad frame,
/// broken), testpmd B <c>RX-missed</c>/<c>RX-errors</c>. Counted-but-not-lost events are allowed: switch
/// <c>HeldFrames</c>, device A <c>Busy</c>, device B <c>NoBuffer</c> (a held delivery retried later), and testpmd A's
/// forward-level <c>TX-dropped</c> (mbufs its <c>tx_burst</c> never put into the ring: not in opackets).</para>
/// <para>B's address is a static entry of the switch and A sends to it (<c>--eth-peer</c>), so correct delivery is
/// known unicast: nothing flooded. testpmd A is stopped first (<c>stop</c>: no more frames enter its ring), then
/// the test waits until the back-end has moved everything A's PMD counted, and until B's PMD has taken it all.</para>
/// </remarks>
[Collection(SerialCollection.Name)]
public sealed partial class DpdkVirtioUserTests(ITestOutputHelper output)
{
    private const string TestPmdPath = "/usr/bin/dpdk-testpmd";
    private static readonly MacAddress MacA = MacAddress.Parse("02:00:00:00:aa:01");
    private static readonly MacAddress MacB = MacAddress.Parse("02:00:00:00:bb:02");

    [DpdkTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void TxOnlyThroughSwitchToRxOnly_TwoQueuePairs_EveryPacketCountedOnBothSides(bool packed)
    {
        var fdsBefore = new HashSet<string>(FdTargets());
        string dir = Path.Combine(Path.GetTempPath(), "vr-dpdk-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string socketA = Path.Combine(dir, "a.sock");
        string socketB = Path.Combine(dir, "b.sock");
        string prefix = "vrdpdkvu" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + (packed ? "p" : "s");
        using var cts = new CancellationTokenSource();
        using var sw = new NetSwitch();
        NetSwitchPort portA = sw.AddGuestPort("a", null, 2);
        NetSwitchPort portB = sw.AddGuestPort("b", MacB, 2);
        using var signalsA = new EpollWorkerSignalFactory();
        using var signalsB = new EpollWorkerSignalFactory();
        using var deviceA = NewDevice("dpdk-a", portA, signalsA);
        using var deviceB = NewDevice("dpdk-b", portB, signalsB);
        var loggerA = new ListLogger();
        var loggerB = new ListLogger();
        using var backendA = new VhostUserNetBackend(deviceA, new VhostUserNetBackendOptions { Logger = loggerA });
        using var backendB = new VhostUserNetBackend(deviceB, new VhostUserNetBackendOptions { Logger = loggerB });
        Task serverA = Serve(backendA, socketA, cts.Token);
        Task serverB = Serve(backendB, socketB, cts.Token);
        TestPmd? pmdA = null;
        TestPmd? pmdB = null;
        try
        {
            Assert.True(SpinWait.SpinUntil(() => File.Exists(socketA) && File.Exists(socketB), 5000), "the back-ends do not listen");

            // B first: it must be running with both pairs before A sends (a frame to a stopped queue is a counted drop).
            pmdB = TestPmd.Start(output, "B", prefix + "b", socketB, MacB, packed, "rxonly", null);
            WaitFor(() => deviceB.IsRunning && deviceB.ActivePairs == 2, 30_000, "device B running with 2 pairs", pmdB, loggerB);
            pmdA = TestPmd.Start(output, "A", prefix + "a", socketA, MacA, packed, "txonly", MacB);
            WaitFor(() => deviceA.IsRunning && deviceA.ActivePairs == 2, 30_000, "device A running with 2 pairs", pmdA, loggerA);

            // Let it run, bounded: 3 s of traffic.
            Thread.Sleep(3000);
            pmdA.Command("stop");
            PortStats a = pmdA.WaitForStats(static _ => true, 10_000);

            // Everything A's PMD put into its rings leaves them through device A (bounded wait).
            WaitFor(() => TxPackets(deviceA) == a.TxPackets, 20_000, $"device A to transmit {a.TxPackets}", pmdA, loggerA);
            WaitFor(() => RxPackets(deviceB) == a.TxPackets, 20_000, $"device B to receive {a.TxPackets}", pmdB, loggerB);
            PortStats b = pmdB.WaitForStats(s => s.RxPackets >= a.TxPackets, 20_000);
            pmdB.Command("stop");

            NetSwitchPortCounters swA = portA.GetCounters();
            NetSwitchPortCounters swB = portB.GetCounters();
            output.WriteLine($"testpmd A: opackets {a.TxPackets} obytes {a.TxBytes} (tx errors {a.TxErrors})");
            output.WriteLine($"device A tx q1 {Describe(deviceA.GetCounters(1))}; q3 {Describe(deviceA.GetCounters(3))}");
            output.WriteLine($"switch A: {swA}");
            output.WriteLine($"switch B: {swB}");
            output.WriteLine($"device B rx q0 {Describe(deviceB.GetCounters(0))}; q2 {Describe(deviceB.GetCounters(2))}");
            output.WriteLine($"testpmd B: ipackets {b.RxPackets} ibytes {b.RxBytes} (missed {b.RxMissed}, errors {b.RxErrors}, nombuf {b.RxNoMbuf})");

            Assert.True(a.TxPackets > 0, "testpmd A sent nothing");
            Assert.Equal(a.TxPackets, TxPackets(deviceA));
            Assert.Equal(a.TxPackets, swA.ReceivedFrames);
            Assert.Equal(a.TxPackets, swB.ForwardedFrames);
            Assert.Equal(a.TxPackets, RxPackets(deviceB));
            Assert.Equal(a.TxPackets, b.RxPackets);
            Assert.Equal(a.TxBytes, deviceA.GetCounters(1).Bytes + deviceA.GetCounters(3).Bytes);
            Assert.Equal(a.TxBytes, swA.ReceivedBytes);
            Assert.Equal(a.TxBytes, swB.ForwardedBytes);
            Assert.Equal(a.TxBytes, deviceB.GetCounters(0).Bytes + deviceB.GetCounters(2).Bytes);
            Assert.Equal(a.TxBytes, b.RxBytes);

            // Known unicast, nothing dropped anywhere.
            Assert.Equal(0, swA.FloodedFrames);
            foreach (NetSwitchPortCounters c in new[] { swA, swB })
            {
                Assert.Equal(0, c.DroppedFiltered + c.DroppedNoBuffers + c.DroppedNoRoute + c.DroppedQueueDown + c.DroppedBadFrame);
            }

            Assert.Equal(0, swB.ReceivedFrames);
            foreach (int q in new[] { 1, 3 })
            {
                NetQueueCounters c = deviceA.GetCounters(q);
                Assert.Equal(0, c.BadHeader + c.BackendDropped + c.BadFrame + c.BrokenQueue);
                Assert.True(c.Packets > 0, $"nothing on device A's transmit queue {q}: both queue pairs must carry traffic");
            }

            foreach (int q in new[] { 0, 2 })
            {
                NetQueueCounters c = deviceB.GetCounters(q);
                Assert.Equal(0, c.Filtered + c.BadFrame + c.BrokenQueue);
                Assert.True(c.Packets > 0, $"nothing on device B's receive queue {q}: the flows must spread over both pairs");
            }

            Assert.Equal(0, b.RxMissed + b.RxErrors);
            Assert.False(deviceA.NeedsReset || deviceB.NeedsReset);
        }
        finally
        {
            pmdA?.Dispose();
            pmdB?.Dispose();
            cts.Cancel();
            backendA.Dispose();
            backendB.Dispose();
            Assert.True(Task.WaitAll([serverA, serverB], 10_000), "the back-ends did not stop serving");
            deviceA.Dispose();
            deviceB.Dispose();
            signalsA.Dispose();
            signalsB.Dispose();
            foreach ((LogLevel level, string message) in Concat(loggerA, loggerB))
            {
                output.WriteLine($"{level}: {message}");
            }

            Directory.Delete(dir, recursive: true);
            DeferredRelease.Drain();
            foreach (string t in FdTargets())
            {
                if (!fdsBefore.Remove(t))
                {
                    output.WriteLine("fd still open: " + t);
                }
            }
            foreach (string p in new[] { prefix + "a", prefix + "b" })
            {
                string runtime = Path.Combine("/var/run/dpdk", p);
                if (Directory.Exists(runtime))
                {
                    Directory.Delete(runtime, recursive: true);
                }
            }
        }
    }

    /// <summary>
    /// Pins the back-end fix this test found: DPDK virtio-user starts a packed ring with <c>SET_VRING_BASE</c> 0x8000
    /// (bits 0-15 only: next descriptor 0, driver wrap counter 1). The used position must follow the avail one (device
    /// wrap counter 1), not read as slot 0 with wrap counter 0 (used descriptors in the wrong phase: the driver never
    /// sees them). No DPDK needed: the test's own front-end sends what DPDK sends, then runs more than a lap.
    /// </summary>
    [Fact]
    public void SetVringBase_PackedSixteenBitBaseAsDpdkSends_UsedPositionFollowsAvail()
    {
        using var harness = new BackendHarness();
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed: true, queueSize: 64);
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            EndToEndTests.Negotiate(frontend, guest);
            guest.StartRings(frontend, [0x8000u, 0x8000u]);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            int next = EndToEndTests.Echo(guest, 0, 150);   // more than two laps of a 64-slot ring

            frontend.SetState(VhostUserRequest.SetVringEnable, 0, 0);
            frontend.SetState(VhostUserRequest.SetVringEnable, 1, 0);
            uint transmit = frontend.GetVringBase(1);

            // 150 single-descriptor chains on a 64-slot ring: slot 150 % 64 = 22, after 2 laps (wrap counters back to 1),
            // nothing in flight, so the used half equals the avail half.
            Assert.Equal(0x8000u | 22u, transmit & 0xffff);
            Assert.Equal(transmit & 0xffff, transmit >> 16);
            Assert.Equal(150, next);
        }

        Assert.Equal(VhostUserSessionEnd.PeerClosed, BackendHarness.Finish(session).End);
    }

    private static IEnumerable<(LogLevel, string)> Concat(ListLogger a, ListLogger b)
    {
        foreach ((LogLevel l, string m) in a.Entries)
        {
            yield return (l, "A " + m);
        }

        foreach ((LogLevel l, string m) in b.Entries)
        {
            yield return (l, "B " + m);
        }
    }

    private static List<string> FdTargets()
    {
        var list = new List<string>();
        foreach (string f in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                list.Add(f + " -> " + new FileInfo(f).LinkTarget);
            }
            catch (IOException)
            {
                // closed while listed
            }
        }

        return list;
    }

    private static NetDevice NewDevice(string name, NetSwitchPort port, EpollWorkerSignalFactory signals) => new(new NetDeviceOptions
    {
        Name = name,
        Mac = port.Mac ?? MacA,
        MaxQueuePairs = 2,
        Backend = port,
        WorkerMode = NetWorkerMode.Blocking,
        SignalFactory = signals.Create,
    });

    private static Task Serve(VhostUserNetBackend backend, string path, CancellationToken token) =>
        Task.Factory.StartNew(() => backend.RunServer(path, token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static long TxPackets(NetDevice device) => device.GetCounters(1).Packets + device.GetCounters(3).Packets;

    private static long RxPackets(NetDevice device) => device.GetCounters(0).Packets + device.GetCounters(2).Packets;

    private static string Describe(NetQueueCounters c) =>
        $"packets {c.Packets} bytes {c.Bytes} noBuffer {c.NoBuffer} filtered {c.Filtered} badHeader {c.BadHeader} broken {c.BrokenQueue} backendDropped {c.BackendDropped} badFrame {c.BadFrame} busy {c.Busy}";

    private static void WaitFor(Func<bool> condition, int milliseconds, string what, TestPmd pmd, ListLogger logger)
    {
        if (!SpinWait.SpinUntil(condition, milliseconds))
        {
            Assert.Fail($"timed out waiting for {what}; testpmd {pmd.Name}:\n{pmd.Output}\nback-end log: {string.Join(" | ", logger.Entries)}");
        }
    }

    /// <summary>The port counters of <c>show port stats all</c> (one port).</summary>
    internal readonly record struct PortStats(long RxPackets, long RxMissed, long RxBytes, long RxErrors, long RxNoMbuf, long TxPackets, long TxErrors, long TxBytes);

    /// <summary>One interactive dpdk-testpmd with a net_virtio_user port; its stdin is a pipe held open until disposal.</summary>
    internal sealed partial class TestPmd : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly object _gate = new();
        private readonly ITestOutputHelper _log;

        private TestPmd(ITestOutputHelper log, string name, Process process)
        {
            _log = log;
            Name = name;
            _process = process;
        }

        public string Name { get; }

        public string Output
        {
            get
            {
                lock (_gate)
                {
                    return _output.ToString();
                }
            }
        }

        public static TestPmd Start(ITestOutputHelper log, string name, string prefix, string socket, MacAddress mac, bool packed, string mode, MacAddress? peer)
        {
            // testpmd writes with stdio: into a pipe that is block-buffered, and nothing would be seen until it exits.
            // stdbuf execs it line-buffered (same PID).
            var info = new ProcessStartInfo("stdbuf")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            string vdev = $"net_virtio_user0,path={socket},queues=2,mac={mac}" + (packed ? ",packed_vq=1" : string.Empty);
            foreach (string arg in new[] { "-oL", "-eL", TestPmdPath, "--no-pci", "--no-huge", "-m", "512", "-l", "0-1", "--file-prefix", prefix, "--vdev", vdev, "--", "-i", "--total-num-mbufs=16384", "--rxq=2", "--txq=2", "--forward-mode=" + mode, "--auto-start" })
            {
                info.ArgumentList.Add(arg);
            }

            if (peer is MacAddress p)
            {
                info.ArgumentList.Add($"--eth-peer=0,{p}");
            }

            if (mode == "txonly")
            {
                info.ArgumentList.Add("--txonly-multi-flow");   // a new IPv4 source per frame: the receiver's steering spreads them
            }

            var process = new Process { StartInfo = info };
            var pmd = new TestPmd(log, name, process);
            process.OutputDataReceived += (_, e) => pmd.Append(e.Data);
            process.ErrorDataReceived += (_, e) => pmd.Append(e.Data);
            Assert.True(process.Start());
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return pmd;
        }

        public void Command(string line)
        {
            _process.StandardInput.WriteLine(line);
            _process.StandardInput.Flush();
        }

        /// <summary>Asks for <c>show port stats all</c> until an answer satisfies <paramref name="done"/>.</summary>
        public PortStats WaitForStats(Func<PortStats, bool> done, int milliseconds)
        {
            var clock = Stopwatch.StartNew();
            PortStats last = default;
            while (clock.ElapsedMilliseconds < milliseconds)
            {
                int from = Output.Length;
                Command("show port stats all");
                PortStats? stats = null;
                SpinWait.SpinUntil(() => (stats = Parse(Output.Substring(from))) is not null, 5000);
                if (stats is PortStats s)
                {
                    last = s;
                    if (done(s))
                    {
                        return s;
                    }
                }

                Thread.Sleep(200);
            }

            Assert.Fail($"testpmd {Name}: the port counters never reached the expected value (last {last}):\n{Output}");
            return last;
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    Command("quit");
                    if (!_process.WaitForExit(10_000))
                    {
                        _process.Kill(entireProcessTree: true);
                        _process.WaitForExit(10_000);
                    }
                }
            }
            catch (IOException)
            {
                // stdin already closed: the process is gone or going.
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(10_000);
                }
            }
            finally
            {
                if (_process.HasExited)
                {
                    _process.WaitForExit();   // also waits for the end of the redirected output (their pipes closed)
                }

                // Process.Dispose leaves the redirected streams open (its finalizers close them later, in some other
                // test's fd count): close stdin here; stdout and stderr were closed at their end.
                try
                {
                    _process.StandardInput.Dispose();
                }
                catch (IOException)
                {
                    // the pipe is broken: testpmd is gone; the fd is closed all the same
                }

                _log.WriteLine($"---- testpmd {Name} (pid {_process.Id}) ----");
                _log.WriteLine(Output);
                _process.Dispose();
            }
        }

        private static PortStats? Parse(string text)
        {
            Match m = StatsRegex().Match(text);
            if (!m.Success)
            {
                return null;
            }

            long L(string group) => long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
            return new PortStats(L("ip"), L("im"), L("ib"), L("ie"), L("in"), L("op"), L("oe"), L("ob"));
        }

        // "  RX-packets: 0          RX-missed: 0          RX-bytes:  0\n  RX-errors: 0\n  RX-nombuf:  0\n  TX-packets: 0  TX-errors: 0  TX-bytes:  0"
        [GeneratedRegex(@"RX-packets:\s*(?<ip>\d+)\s+RX-missed:\s*(?<im>\d+)\s+RX-bytes:\s*(?<ib>\d+)\s+RX-errors:\s*(?<ie>\d+)\s+RX-nombuf:\s*(?<in>\d+)\s+TX-packets:\s*(?<op>\d+)\s+TX-errors:\s*(?<oe>\d+)\s+TX-bytes:\s*(?<ob>\d+)")]
        private static partial Regex StatsRegex();

        private void Append(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_gate)
            {
                _output.AppendLine(line);
            }
        }
    }
}

/// <summary>A theory that is skipped, with the reason, when dpdk-testpmd is not installed (never skipped when the environment variable <c>CI</c> is set).</summary>
public sealed class DpdkTheoryAttribute : TheoryAttribute
{
    public DpdkTheoryAttribute()
    {
        if (!File.Exists("/usr/bin/dpdk-testpmd") && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            Skip = "dpdk-testpmd is not installed (/usr/bin/dpdk-testpmd; Debian package dpdk): the DPDK virtio-user interop test needs it. Set CI=1 to make its absence a failure.";
        }
    }
}
