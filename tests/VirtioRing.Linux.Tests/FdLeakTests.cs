using System;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Memory;
using Xunit;

namespace VirtioRing.Linux.Tests;

[Collection(FdCountingCollection.Name)]
public sealed class FdLeakTests
{
    [Fact]
    public void Dispose_ManyObjects_FdCountReturnsToStart()
    {
        Round(1);   // warm up: the runtime opens what it needs lazily
        int start = FdCount.Current();

        Round(100);

        Assert.Equal(start, FdCount.Current());
    }

    private static void Round(int n)
    {
        for (int i = 0; i < n; i++)
        {
            using (var e = new EventFd())
            {
                e.Notify();
                e.TryConsume();
            }

            using (var sender = new EventFd())
            using (var received = EventFd.FromHandle(SafeFileDescriptor.Duplicate(sender.Handle)))
            {
                sender.Notify();
                received.TryConsume();
            }

            using (var s = new EpollWorkerSignal())
            {
                using var k1 = new EventFd();
                using var k2 = new EventFd();
                s.Add(k1);
                s.Add(k2.Handle);
                s.Remove(k2.Handle);
                s.Notify();
                s.Wait(0);
            }

            using (var f = new EpollWorkerSignalFactory())
            {
                f.Create(0);
                f.Create(1);
            }

            using (var region = MemfdGuestRegion.Create(new GuestAddress(0), 8192))
            using (var second = MemfdGuestRegion.Map(region.Handle, 4096, 4096, new GuestAddress(0x10000)))
            using (var memory = new GuestMemory([second.Region], ownsRegions: false))
            {
                memory.Write(new GuestAddress(0x10000), [1]);
            }

            Assert.Throws<ArgumentOutOfRangeException>(() =>
            {
                using var region = MemfdGuestRegion.Create(new GuestAddress(0), 4096);
                MemfdGuestRegion.Map(region.Handle, 0, 8192, new GuestAddress(0));
            });
            Assert.Throws<ArgumentOutOfRangeException>(() =>
            {
                using var region = MemfdGuestRegion.Create(new GuestAddress(0), 4096);
                MemfdGuestRegion.Map(region.Handle, ulong.MaxValue - 10, 100, new GuestAddress(0));
            });

            // A failed mmap (a read-only descriptor) closes the duplicate it made.
            using (var region = MemfdGuestRegion.Create(new GuestAddress(0), 4096))
            using (var readOnly = System.IO.File.OpenHandle($"/proc/self/fd/{region.Handle.Fd}", System.IO.FileMode.Open, System.IO.FileAccess.Read))
            {
                Assert.Throws<LinuxException>(() => MemfdGuestRegion.Map(readOnly, 0, 4096, new GuestAddress(0)));
            }
        }
    }
}
