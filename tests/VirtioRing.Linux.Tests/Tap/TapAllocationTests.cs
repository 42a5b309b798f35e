using System;
using System.Collections.Generic;
using System.Diagnostics;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>
/// Steady state allocates nothing: guest echo requests through the TAP, answered by the kernel, with
/// the device's workers, the backend and its readiness thread all running. Measures the whole
/// process, so it runs alone (the fd-counting collection is not parallel).
/// </summary>
[Collection(FdCountingCollection.Name)]
public sealed class TapAllocationTests
{
    [RootFact]
    public void EchoThroughTheTap_SteadyState_AllocatesNothing()
    {
        using TapLab lab = TapLab.Create();
        byte[] request = lab.Ipv4Frame(Packets.ProtocolIcmp, Packets.IcmpEcho(1, 1, new byte[1000]));
        byte[] buffer = new byte[70_000];
        for (int i = 0; i < 500; i++)
        {
            Echo(lab, request, buffer);   // warm-up: tiered compilation, first-use buffers
        }

        // Up to 200 windows of 30 echoes; the first at 0 B ends it. The count is process-wide, and the test host
        // allocates in the background whatever the test does (~1.5 KB/s of 168-byte objects, measured with no TAP
        // at all on a loaded machine), so a window must be short for a quiet one to exist; a data path that
        // allocated even once per 30 echoes would allocate in every window. Warm-up effects (tier-up, first-use
        // paths of the runtime) shrink window by window.
        long best = long.MaxValue;
        var windows = new List<long>();
        for (int w = 0; w < 200 && best != 0; w++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 30; i++)
            {
                Echo(lab, request, buffer);
            }

            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            windows.Add(allocated);
            best = Math.Min(best, allocated);
        }

        Assert.True(best == 0, $"every window allocated: {string.Join(", ", windows)} B per 30 echoes");
        Assert.Equal(0, lab.Backend.GetCounters(0).TransmitDrops);
    }

    [RootFact]
    public void Idle_AfterTraffic_NothingRunsUntilAFrameArrives()
    {
        using TapLab lab = TapLab.Create();
        byte[] request = lab.Ipv4Frame(Packets.ProtocolIcmp, Packets.IcmpEcho(1, 1, new byte[64]));
        byte[] buffer = new byte[70_000];
        for (int i = 0; i < 50; i++)
        {
            Echo(lab, request, buffer);
        }

        System.Threading.Thread.Sleep(50);
        long wakeups = lab.Backend.GetCounters(0).Wakeups;
        Dictionary<string, long> before = ThreadTicks();
        System.Threading.Thread.Sleep(500);
        Dictionary<string, long> after = ThreadTicks();

        // The readiness thread sleeps in epoll_wait, the device's workers on their signals: no wake-up, no
        // CPU (the runtime's own tiered-compilation thread may still be busy; it is not counted).
        Assert.Equal(wakeups, lab.Backend.GetCounters(0).Wakeups);
        Assert.Contains(after.Keys, k => k.StartsWith("TAP ", StringComparison.Ordinal));
        Assert.Contains(after.Keys, k => k.StartsWith("tap-test pair", StringComparison.Ordinal));
        foreach ((string thread, long ticks) in after)
        {
            long used = ticks - before.GetValueOrDefault(thread, ticks);
            Assert.True(used <= 1, $"thread \"{thread}\" used {used} clock ticks in 500 ms idle");
        }

        Echo(lab, request, buffer);   // and it still answers
    }

    /// <summary>CPU clock ticks (user + system, <c>/proc/self/task/*/stat</c>) of the backend's and the device's threads, by thread name (15 characters, as Linux keeps them) and id.</summary>
    private static Dictionary<string, long> ThreadTicks()
    {
        var ticks = new Dictionary<string, long>();
        foreach (string task in System.IO.Directory.GetDirectories("/proc/self/task"))
        {
            string stat;
            try
            {
                stat = System.IO.File.ReadAllText(System.IO.Path.Combine(task, "stat"));
            }
            catch (System.IO.IOException)
            {
                continue;   // the thread ended
            }

            int open = stat.IndexOf('(', StringComparison.Ordinal);
            int close = stat.LastIndexOf(')');
            string name = stat[(open + 1)..close];
            if (!name.StartsWith("TAP ", StringComparison.Ordinal) && !name.StartsWith("tap-test", StringComparison.Ordinal))
            {
                continue;
            }

            string[] fields = stat[(close + 2)..].Split(' ');
            long utime = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture);
            long stime = long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
            ticks[name + " #" + System.IO.Path.GetFileName(task)] = utime + stime;
        }

        return ticks;
    }

    private static void Echo(TapLab lab, byte[] request, byte[] buffer)
    {
        var driver = lab.Driver;
        while (!driver.TrySend(0, request, default))
        {
            driver.ReclaimTransmitted(0);
        }

        driver.ReclaimTransmitted(0);
        long deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 2;
        while (!driver.TryReceive(0, buffer, out VirtioNetHeader _, out int _))
        {
            Assert.True(Stopwatch.GetTimestamp() < deadline, "no echo reply within 2 s");
            lab.Guest.WaitForUsed(0, 10);
        }
    }
}
