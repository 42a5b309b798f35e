using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;
using Microsoft.Extensions.Logging.Abstractions;
using VhostUserNet;
using VirtioRing.Net;
using VirtioRing.Net.Engine;
using VirtioRing.Net.Switching;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Daemon;

/// <summary>
/// The daemon's <c>--poll-threads</c> (devices in <see cref="NetWorkerMode.Manual"/>, N threads polling every pair),
/// <c>--steering queue</c> and <c>--worker-mode busy-poll</c>, with test front-ends and NetDriver guests in-process.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class PollThreadsTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    public void PollThreads_TwoGuests_FramesBothWaysThenCleanShutdown(int threads, int queues)
    {
        using var rig = new Rig(new DaemonOptionsBuilder(queues) { PollThreads = threads });
        using DaemonGuest a = rig.Connect(0, queues);
        using DaemonGuest b = rig.Connect(1, queues);
        int anyIfSeveral = queues > 1 ? -1 : 0;   // flow steering: the receiver picks the queue
        Exchange(a, b, 0, 150, pair: 0, receiverPair: anyIfSeveral);
        Exchange(b, a, 1000, 120, pair: 0, receiverPair: anyIfSeveral);
        if (queues > 1)
        {
            Exchange(a, b, 2000, 60, pair: 1, receiverPair: -1);
            Exchange(b, a, 3000, 60, pair: 1, receiverPair: -1);
        }

        rig.Daemon.Dispose();
        foreach (DaemonDevice d in rig.Daemon.Devices)
        {
            Assert.False(d.IsServing, $"{d.Name}: the serving thread still runs");
        }
    }

    /// <summary>
    /// With queue steering, a frame sent on pair i lands on the receiver's pair i (mod its active pairs); the receiver's
    /// front-end disables and re-enables its second pair (SET_VRING_ENABLE) while one poll thread serves both devices,
    /// and the sender's second pair goes too: traffic follows the active set each time.
    /// </summary>
    [Fact]
    public void PollThreads_QueuePairsDisabledAndEnabledLive_TrafficFollowsTheActivePairs()
    {
        using var rig = new Rig(new DaemonOptionsBuilder(2) { PollThreads = 1, Steering = NetSwitchSteering.QueueAffinity });
        using DaemonGuest a = rig.Connect(0, 2);
        using DaemonGuest b = rig.Connect(1, 2);
        NetDevice bDevice = rig.Daemon.Devices[1].Device;
        NetDevice aDevice = rig.Daemon.Devices[0].Device;
        Assert.Equal(2, bDevice.ActivePairs);
        Exchange(a, b, 0, 40, pair: 0);
        Exchange(a, b, 100, 40, pair: 1);

        for (int cycle = 0; cycle < 3; cycle++)
        {
            // B's pair 1 goes: what A sends on its pair 1 now reaches B on pair 0 (1 mod 1).
            SetPairEnabled(b, 1, false);
            VhostUserDaemonTests.WaitFor(() => bDevice.ActivePairs == 1, "B's second pair was not disabled");
            Exchange(a, b, 1000 + (cycle * 100), 30, pair: 1, receiverPair: 0);

            // A's pair 1 goes as well: A sends on pair 0 only.
            SetPairEnabled(a, 1, false);
            VhostUserDaemonTests.WaitFor(() => aDevice.ActivePairs == 1, "A's second pair was not disabled");
            Exchange(a, b, 5000 + (cycle * 100), 30, pair: 0);

            // Both back: pair i to pair i again.
            SetPairEnabled(a, 1, true);
            SetPairEnabled(b, 1, true);
            VhostUserDaemonTests.WaitFor(() => aDevice.ActivePairs == 2 && bDevice.ActivePairs == 2, "the second pairs did not come back");
            Exchange(a, b, 9000 + (cycle * 100), 30, pair: 1);
            Exchange(b, a, 20000 + (cycle * 100), 30, pair: 1);
        }
    }

    /// <summary>
    /// B's front-end goes away (its session ends: device reset, rings unmapped) and comes back, three times, while A keeps
    /// sending to B and the poll thread keeps polling: the ended session's rings are never touched (they are unmapped; a
    /// touch would fault the process), frames for the absent B are dropped and counted, and the new B gets traffic.
    /// </summary>
    [Fact]
    public void PollThreads_SessionDisconnectAndReconnect_NewSessionServedOldRingsUntouched()
    {
        using var rig = new Rig(new DaemonOptionsBuilder(1) { PollThreads = 1 });
        using DaemonGuest a = rig.Connect(0, 1);
        NetDevice bDevice = rig.Daemon.Devices[1].Device;
        for (int cycle = 0; cycle < 3; cycle++)
        {
            using (DaemonGuest b = rig.Connect(1, 1))
            {
                Exchange(a, b, cycle * 1000, 50, pair: 0);
                Exchange(b, a, (cycle * 1000) + 500, 20, pair: 0);

                // Frames in flight toward B as its front-end closes.
                for (int i = 0; i < 30; i++)
                {
                    a.Send(a.Frame(b.Mac, (cycle * 1000) + 900 + i));
                }
            }

            VhostUserDaemonTests.WaitFor(() => !bDevice.IsRunning, "B's device did not stop when its front-end left");
            for (int i = 0; i < 40; i++)
            {
                a.Send(a.Frame(rig.Mac(1), 100_000 + i));   // to nobody: dropped, A's ring keeps moving
            }

            VhostUserDaemonTests.WaitFor(
                () =>
                {
                    a.Guest.Driver.ReclaimTransmitted(0);
                    return a.Guest.Driver.GetTransmitOutstanding(0) == 0;
                },
                "A's frames for the absent B were not taken off A's ring");
        }

        using DaemonGuest last = rig.Connect(1, 1);
        Exchange(a, last, 50_000, 50, pair: 0);
    }

    /// <summary>
    /// An idle daemon with two poll threads sleeps: over about a second the whole test process uses far less than a
    /// core (a spinning poll thread alone would use all of one); a frame sent to the sleeping daemon arrives promptly
    /// (its kick wakes the thread, not the sleep's safety timeout), several times in a row.
    /// </summary>
    [Fact]
    public void PollThreads_IdleDaemon_SleepsAndWakesOnTheNextKick()
    {
        using var rig = new Rig(new DaemonOptionsBuilder(1) { PollThreads = 2 });
        using DaemonGuest a = rig.Connect(0, 1);
        using DaemonGuest b = rig.Connect(1, 1);
        Exchange(a, b, 0, 20, pair: 0);

        Thread.Sleep(200);
        long sleeps = rig.Daemon.PollThreadSleeps;
        Assert.True(sleeps > 0, "the poll threads never went to sleep");
        using var self = Process.GetCurrentProcess();
        TimeSpan before = self.TotalProcessorTime;
        long pollBefore = PollThreadTicks();
        long sleepsBefore = rig.Daemon.PollThreadSleeps;
        var clock = Stopwatch.StartNew();
        Thread.Sleep(1000);
        self.Refresh();
        double seconds = clock.Elapsed.TotalSeconds;
        double cpu = (self.TotalProcessorTime - before).TotalSeconds / seconds;
        double pollCpu = (PollThreadTicks() - pollBefore) / 100.0 / seconds;   // USER_HZ = 100

        // The poll threads themselves (from /proc, exact per thread) next to the whole test process (which also
        // JIT-compiles, collects and runs the front-ends, so its bound is generous): a poll thread that never slept
        // would use most of a core even on a loaded machine.
        long wakeups = rig.Daemon.PollThreadSleeps - sleepsBefore;
        Assert.True(pollCpu < 0.1 && cpu < 0.9 && wakeups < 20, $"the idle daemon's poll threads used {pollCpu:P0} of a core (the test process {cpu:P0}) and went to sleep {wakeups} times");

        for (int i = 0; i < 5; i++)
        {
            Thread.Sleep(100);   // long past the idle spin: asleep
            var latency = Stopwatch.StartNew();
            byte[] f = a.Frame(b.Mac, 500 + i);
            a.Send(f);
            b.ExpectFrame(f);
            Assert.True(latency.ElapsedMilliseconds < 1000, $"a frame to the sleeping daemon took {latency.ElapsedMilliseconds} ms");
        }

        Assert.True(rig.Daemon.PollThreadSleeps > sleeps, "the poll threads did not sleep between the frames");
    }

    /// <summary>
    /// Lossless, two poll threads: A (thread 0) sends to B (thread 1) faster than B reads, so A's chain is held and
    /// thread 0, with nothing else to do, sleeps. B's refill kicks reach the device only when thread 1 takes in B's
    /// signal, while D keeps thread 1 busy (D sends to its own address: each frame is work, then dropped). Every frame
    /// arrives, long before the sleeping thread's 2-s safety timeout would have released A. (On two cores D cannot keep
    /// thread 1 busy without pause, so this passes without the busy threads' periodic drain too: it guards the release
    /// path, not that race.)
    /// </summary>
    [Fact]
    public void PollThreads_LosslessSenderHeldOnASleepingThread_ReleasedWhileTheOtherThreadIsBusy()
    {
        string dir = Directory.CreateTempSubdirectory("vr-daemon-poll-").FullName;
        string[] sockets = [Path.Combine(dir, "a.sock"), Path.Combine(dir, "b.sock"), Path.Combine(dir, "c.sock"), Path.Combine(dir, "d.sock")];
        var options = new DaemonOptions(sockets, 1, DaemonBackend.Switch, false, TimeSpan.Zero, TimeSpan.Zero)
        {
            PollThreads = 2,   // device d on thread d mod 2: A and C on 0, B and D on 1
            FlowControl = NetSwitchFlowControl.Lossless,
        };
        using (var daemon = new VhostUserDaemon(options, NullLoggerFactory.Instance))
        {
            daemon.Start();
            VhostUserDaemonTests.WaitFor(() => Array.TrueForAll(sockets, File.Exists), "the daemon did not listen");
            DaemonGuest Connect(int i)
            {
                NetDevice device = daemon.Devices[i].Device;
                DaemonGuest g = DaemonGuest.Connect(sockets[i], device.OfferedFeatures, MacAddress.Read(device.Config.Mac));
                VhostUserDaemonTests.WaitFor(() => device.IsRunning, $"device {i} did not start");
                return g;
            }

            using DaemonGuest a = Connect(0);
            using DaemonGuest b = Connect(1);
            using DaemonGuest d = Connect(3);
            Exchange(b, a, 0, 1, pair: 0);   // the switch learns B's address

            using var stop = new CancellationTokenSource();
            var busy = new Thread(() =>
            {
                byte[] toItself = d.Frame(d.Mac, 1);
                while (!stop.IsCancellationRequested)
                {
                    if (!d.Guest.Driver.TrySend(0, toItself, default))
                    {
                        d.Guest.Driver.ReclaimTransmitted(0);
                    }
                }
            }) { IsBackground = true, Name = "D busy" };
            busy.Start();

            const int Frames = 400;   // more than B's 256 receive buffers
            var frames = new byte[Frames][];
            for (int i = 0; i < Frames; i++)
            {
                frames[i] = a.Frame(b.Mac, 100 + i);
            }

            var sender = new Thread(() =>
            {
                foreach (byte[] f in frames)
                {
                    a.Send(f);
                }
            }) { IsBackground = true, Name = "A sender" };
            sender.Start();

            NetQueuePair aPair = daemon.Devices[0].Device.GetPair(0);
            VhostUserDaemonTests.WaitFor(() => aPair.HasHeldChain, "A's chain was never held (B's ring never filled)");
            Thread.Sleep(300);   // thread 0 has long gone to sleep

            var clock = Stopwatch.StartNew();
            foreach (byte[] f in frames)
            {
                b.ExpectFrame(f);
            }

            long elapsed = clock.ElapsedMilliseconds;
            stop.Cancel();
            Assert.True(busy.Join(TimeSpan.FromSeconds(10)) && sender.Join(TimeSpan.FromSeconds(10)), "a test thread did not end");
            Assert.True(elapsed < 1500, $"B took {elapsed} ms for {Frames} frames: A stayed held behind B's refilled ring");
        }

        Directory.Delete(dir, recursive: true);
    }

    /// <summary>More poll threads than queue pairs: the daemon starts one per pair (the others would own nothing).</summary>
    [Fact]
    public void PollThreads_MoreThanPairs_OnePerPair()
    {
        using var rig = new Rig(new DaemonOptionsBuilder(1) { PollThreads = 8 });
        using DaemonGuest a = rig.Connect(0, 1);
        using DaemonGuest b = rig.Connect(1, 1);
        Exchange(a, b, 0, 10, pair: 0);
        int threads = PollThreadTasks().Count;
        Assert.Equal(2, threads);   // two sockets, one pair each
    }

    /// <summary>The user and system time of this process's poll threads (their names start "vhost-user poll"), in clock ticks.</summary>
    private static long PollThreadTicks()
    {
        long ticks = 0;
        foreach (string task in PollThreadTasks())
        {
            try
            {
                string stat = File.ReadAllText(Path.Combine(task, "stat"));
                string[] fields = stat.Substring(stat.LastIndexOf(')') + 2).Split(' ');
                ticks += long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);   // utime, stime (fields 14, 15)
            }
            catch (IOException)
            {
                // the thread ended while listed
            }
        }

        return ticks;
    }

    /// <summary>The <c>/proc/self/task</c> folders of this process's poll threads (their names start "vhost-user poll").</summary>
    private static List<string> PollThreadTasks()
    {
        var tasks = new List<string>();
        foreach (string task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).StartsWith("vhost-user poll", StringComparison.Ordinal))
                {
                    tasks.Add(task);
                }
            }
            catch (IOException)
            {
                // the thread ended while listed
            }
        }

        return tasks;
    }

    /// <summary>
    /// Bursts of 1–3 frames separated by pauses around the poll thread's idle spin (0–600 µs), so a burst often lands
    /// while the thread decides to sleep (draining signals, arming kicks, rechecking): every frame arrives long before
    /// the sleep's 2-s safety timeout, i.e. no kick is lost. With and without EVENT_IDX (DPDK's virtio PMD kicks on the
    /// NO_NOTIFY flag alone) and IN_ORDER.
    /// </summary>
    [Theory]
    [InlineData(NetFeatures.None)]
    [InlineData(NetFeatures.EventIdx)]
    [InlineData(NetFeatures.EventIdx | NetFeatures.InOrder)]
    public void PollThreads_BurstsAroundTheIdleSpin_NoKickLost(NetFeatures without)
    {
        using var rig = new Rig(new DaemonOptionsBuilder(1) { PollThreads = 1 });
        using DaemonGuest a = rig.Connect(0, 1, without);
        using DaemonGuest b = rig.Connect(1, 1, without);
        Assert.Equal(NetFeatures.None, a.Guest.Accepted & without);
        var random = new Random(20261126);
        long worst = 0;
        int sequence = 0;
        for (int burst = 0; burst < 300; burst++)
        {
            int n = 1 + random.Next(3);
            byte[][] frames = new byte[n][];
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                frames[i] = a.Frame(b.Mac, sequence++);
                a.Send(frames[i]);
            }

            foreach (byte[] f in frames)
            {
                b.ExpectFrame(f);
            }

            worst = Math.Max(worst, clock.ElapsedMilliseconds);
            long pause = Stopwatch.GetTimestamp() + (random.Next(600) * Stopwatch.Frequency / 1_000_000);
            while (Stopwatch.GetTimestamp() < pause)
            {
                Thread.SpinWait(10);
            }
        }

        Assert.True(worst < 1000, $"a burst took {worst} ms to arrive (a lost kick waits for the 2-s safety timeout)");
    }

    [Fact]
    public void WorkerModeBusyPoll_TwoGuests_FramesBothWays()
    {
        using var rig = new Rig(new DaemonOptionsBuilder(2) { WorkerMode = NetWorkerMode.BusyPoll, Steering = NetSwitchSteering.QueueAffinity });
        using DaemonGuest a = rig.Connect(0, 2);
        using DaemonGuest b = rig.Connect(1, 2);
        Exchange(a, b, 0, 100, pair: 0);
        Exchange(a, b, 200, 100, pair: 1);
        Exchange(b, a, 400, 100, pair: 1);
    }

    /// <summary>
    /// Sends <paramref name="count"/> frames from <paramref name="from"/> on <paramref name="pair"/>; each must arrive at
    /// <paramref name="to"/> on <paramref name="receiverPair"/> (default: the same pair; -1: any pair).
    /// </summary>
    private static void Exchange(DaemonGuest from, DaemonGuest to, int first, int count, int pair, int receiverPair = -2)
    {
        int expectOn = receiverPair == -2 ? pair : receiverPair;
        for (int i = 0; i < count; i++)
        {
            byte[] f = from.Frame(to.Mac, first + i);
            from.Send(f, pair);
            to.ExpectFrame(f, expectOn);
        }
    }

    private static void SetPairEnabled(DaemonGuest guest, int pair, bool enabled)
    {
        guest.Frontend.SetState(VhostUserRequest.SetVringEnable, (uint)(2 * pair), enabled ? 1u : 0u);
        guest.Frontend.SetState(VhostUserRequest.SetVringEnable, (uint)((2 * pair) + 1), enabled ? 1u : 0u);
    }

    /// <summary>Options of a two-socket switch daemon (the sockets are filled in by <see cref="Rig"/>).</summary>
    private sealed class DaemonOptionsBuilder(int queues)
    {
        public int Queues { get; } = queues;

        public int PollThreads { get; init; }

        public NetSwitchSteering Steering { get; init; }

        public NetWorkerMode WorkerMode { get; init; } = NetWorkerMode.Blocking;
    }

    /// <summary>A daemon with two sockets in a temporary directory, started; disposing it stops it and removes the directory.</summary>
    private sealed class Rig : IDisposable
    {
        private readonly string _dir;
        private readonly string[] _sockets;

        public Rig(DaemonOptionsBuilder b)
        {
            _dir = Directory.CreateTempSubdirectory("vr-daemon-poll-").FullName;
            _sockets = [Path.Combine(_dir, "a.sock"), Path.Combine(_dir, "b.sock")];
            var options = new DaemonOptions(_sockets, b.Queues, DaemonBackend.Switch, false, TimeSpan.Zero, TimeSpan.Zero)
            {
                PollThreads = b.PollThreads,
                Steering = b.Steering,
                WorkerMode = b.WorkerMode,
            };
            Daemon = new VhostUserDaemon(options, NullLoggerFactory.Instance);
            Daemon.Start();
            VhostUserDaemonTests.WaitFor(() => File.Exists(_sockets[0]) && File.Exists(_sockets[1]), "the daemon did not listen");
        }

        public VhostUserDaemon Daemon { get; }

        public MacAddress Mac(int device) => MacAddress.Read(Daemon.Devices[device].Device.Config.Mac);

        public DaemonGuest Connect(int device, int queuePairs, NetFeatures without = NetFeatures.None)
        {
            NetDevice d = Daemon.Devices[device].Device;
            DaemonGuest guest = DaemonGuest.Connect(_sockets[device], d.OfferedFeatures, Mac(device), queuePairs, without);
            VhostUserDaemonTests.WaitFor(() => d.IsRunning && d.ActivePairs == queuePairs, $"device {device} did not start with {queuePairs} pair(s)");
            return guest;
        }

        public void Dispose()
        {
            Daemon.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }
}
