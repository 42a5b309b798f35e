using System;
using System.Threading;
using Tmds.Linux;
using VirtioRing.Linux.Tap;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net.Engine;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>
/// The TAP disappears under a running guest (<c>ip link del</c>): the device is told once with a clear
/// <see cref="LinuxException"/>, the queue stops (frames dropped and counted), nothing throws, the
/// process goes on, and after disposal no descriptor is left open. Counts descriptors, so it runs alone.
/// </summary>
[Collection(FdCountingCollection.Name)]
public sealed class TapFaultTests
{
    [RootFact]
    public void TapDeletedUnderTraffic_BackendFaultedOnceWithEbadfd_QueueStops_NoDescriptorLeft()
    {
        // Warm-up: the first lab opens descriptors the runtime keeps for good (process pipes, epoll of the socket engine).
        using (TapLab warm = TapLab.Create())
        {
            TapBadInputTests.Ping(warm, 1);
        }

        (int before, int tunBefore, int pollBefore) = Descriptors();
        string tapName;
        string nsName;
        using (TapLab lab = TapLab.Create())
        {
            tapName = lab.TapName;
            nsName = lab.Namespace.Name;
            NetBackendFaultEventArgs? fault = null;
            int raised = 0;
            using var faulted = new ManualResetEventSlim();
            lab.Guest.Device.BackendFaulted += (_, e) =>
            {
                Interlocked.Increment(ref raised);
                fault = e;
                faulted.Set();
            };

            for (ushort i = 1; i <= 5; i++)
            {
                TapBadInputTests.Ping(lab, i);
            }

            // Deleted while idle: nothing is transmitted, so only the readiness thread can notice (EPOLLERR
            // wakes the queue, its read fails with EBADFD).
            lab.Namespace.Ip("link", "del", "dev", tapName);
            Assert.True(faulted.Wait(3000), $"BackendFaulted was not raised: {lab.Backend.GetCounters(0)}");

            Assert.Equal(0, fault!.BackendQueue);
            var error = Assert.IsType<LinuxException>(fault.Error);
            Assert.Equal(LibC.EBADFD, error.Errno);
            Assert.Equal("readv", error.CallName);
            Assert.Contains(tapName, error.Message, StringComparison.Ordinal);
            Assert.Contains("deleted", error.Message, StringComparison.Ordinal);
            Assert.Contains("File descriptor in bad state", error.Message, StringComparison.Ordinal);   // strerror(EBADFD)
            Assert.Same(error, lab.Backend.GetFault(0));
            Assert.Same(error, lab.Guest.Device.GetBackendFault(0));

            // The guest goes on sending: the frames are dropped and counted, nothing throws, no second report.
            byte[] frame = lab.Ipv4Frame(Packets.ProtocolIcmp, Packets.IcmpEcho(7, 99, new byte[16]));
            for (int i = 0; i < 10; i++)
            {
                lab.Send(frame);
            }

            SpinWait.SpinUntil(() => lab.Guest.Device.GetCounters(1).BackendDropped >= 10, 3000);
            Assert.Equal(10, lab.Guest.Device.GetCounters(1).BackendDropped);
            Assert.Equal(5, lab.Backend.GetCounters(0).TransmittedFrames);

            // A direct transmit on the failed queue (as a switch would make) answers Dropped too.
            Assert.Equal(VirtioRing.Net.Backends.NetTransmitStatus.Dropped, lab.Backend.Transmit(0, VirtioRing.Net.Backends.NetFrame.FromSpan(default, frame)));
            Assert.Equal(1, lab.Backend.GetCounters(0).DroppedAfterFault);
            Thread.Sleep(100);
            Assert.Equal(1, Volatile.Read(ref raised));
        }

        Assert.False(NetNamespace.Exists(nsName), "the namespace is still there");
        (int after, int tunAfter, int pollAfter) = Descriptors();
        Assert.Equal(0, tunBefore);
        Assert.Equal(0, tunAfter);                 // every /dev/net/tun descriptor closed
        Assert.Equal(pollBefore, pollAfter);       // the readiness thread's epoll and eventfd closed
        Assert.Equal(before, after);
    }

    /// <summary>
    /// Open descriptors: those on <c>/dev/net/tun</c> and the epoll/eventfd instances, counted as they are
    /// (a forced collection would let finalizers close a leaked handle and hide it); then all of them
    /// after a full collection (<c>Process</c> leaves the pipes of a redirected child to the finalizer).
    /// </summary>
    private static (int All, int Tun, int Poll) Descriptors()
    {
        int tun = 0;
        int poll = 0;
        foreach (string fd in System.IO.Directory.GetFiles("/proc/self/fd"))
        {
            string? target = null;
            try
            {
                target = new System.IO.FileInfo(fd).LinkTarget;
            }
            catch (System.IO.IOException)
            {
                // closed meanwhile (the enumeration's own descriptor)
            }

            tun += target == "/dev/net/tun" ? 1 : 0;
            poll += target is "anon_inode:[eventpoll]" or "anon_inode:[eventfd]" ? 1 : 0;
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return (FdCount.Current(), tun, poll);
    }

    [RootFact]
    public void TapDeletedWhileTransmitting_TheWriteReportsIt()
    {
        using TapLab lab = TapLab.Create();
        TapBadInputTests.Ping(lab, 1);
        using var faulted = new ManualResetEventSlim();
        Exception? error = null;
        lab.Guest.Device.BackendFaulted += (_, e) =>
        {
            error = e.Error;
            faulted.Set();
        };

        // Stop watching the descriptor first, so the write is what meets the deleted device.
        lab.Backend.Detach();
        lab.Namespace.Ip("link", "del", "dev", lab.TapName);
        lab.Backend.Attach(lab.Guest.Device);
        lab.Send(lab.Ipv4Frame(Packets.ProtocolIcmp, Packets.IcmpEcho(7, 2, new byte[16])));
        Assert.True(faulted.Wait(3000), "BackendFaulted was not raised");
        var e = Assert.IsType<LinuxException>(error);
        Assert.Equal(LibC.EBADFD, e.Errno);
    }
}
