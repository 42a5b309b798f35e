using System;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace VirtioRing.Linux.Tests;

public sealed class EpollWorkerSignalTests
{
    [Fact]
    public void Wait_NothingSignalled_TimesOutFalse()
    {
        using var s = new EpollWorkerSignal();
        long start = Environment.TickCount64;
        Assert.False(s.Wait(50));
        Assert.True(Environment.TickCount64 - start >= 40, "returned before the timeout");
        Assert.False(s.Wait(0));
    }

    [Fact]
    public void Wait_NotifiedBefore_ReturnsTrueOnceAndConsumes()
    {
        using var s = new EpollWorkerSignal();
        s.Notify();
        s.Notify();
        Assert.True(s.Wait(1000));
        Assert.False(s.Wait(0));   // the two notifies were coalesced and consumed
    }

    [Fact]
    public async Task Wait_NotifiedFromAnotherThread_Wakes()
    {
        using var s = new EpollWorkerSignal();
        Task<bool> waiter = Task.Run(() => s.Wait(10_000));
        Thread.Sleep(20);
        s.Notify();
        Assert.True(await waiter.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Wait_AddedEventFdNotifiedFromAnotherThread_WakesAndConsumesItsCounter()
    {
        using var s = new EpollWorkerSignal();
        using var kick = new EventFd();
        s.Add(kick);
        Assert.Equal(1, s.Count);

        Task<bool> waiter = Task.Run(() => s.Wait(10_000));
        Thread.Sleep(20);
        kick.Notify();
        Assert.True(await waiter.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(kick.TryConsume());   // Wait consumed it
        Assert.False(s.Wait(0));
    }

    [Fact]
    public void Wait_PlainDescriptorReadable_LevelTriggeredUntilDrainedOrRemoved()
    {
        using var s = new EpollWorkerSignal();
        using var backendFd = new EventFd();
        s.Add(backendFd.Handle);   // not consumed by the signal: the caller drains it
        backendFd.Notify();

        Assert.True(s.Wait(0));
        Assert.True(s.Wait(0));   // still readable
        Assert.True(backendFd.TryConsume());
        Assert.False(s.Wait(0));

        backendFd.Notify();
        Assert.True(s.Remove(backendFd.Handle));
        Assert.False(s.Wait(0));
        Assert.False(s.Remove(backendFd.Handle));
        Assert.Equal(0, s.Count);
    }

    [Fact]
    public void Wait_MoreReadyDescriptorsThanOneBatch_AllConsumedOverWaits()
    {
        using var s = new EpollWorkerSignal();
        var kicks = new EventFd[40];
        try
        {
            for (int i = 0; i < kicks.Length; i++)
            {
                kicks[i] = new EventFd();
                s.Add(kicks[i]);
                kicks[i].Notify();
            }

            s.Notify();
            int waits = 0;
            while (s.Wait(0))
            {
                Assert.True(++waits <= kicks.Length + 1, "Wait keeps returning true");
            }

            foreach (EventFd k in kicks)
            {
                Assert.False(k.TryConsume());
            }
        }
        finally
        {
            foreach (EventFd? k in kicks)
            {
                k?.Dispose();
            }
        }
    }

    [Fact]
    public void Add_Twice_ThrowsInvalidOperation()
    {
        using var s = new EpollWorkerSignal();
        using var kick = new EventFd();
        s.Add(kick);
        Assert.Throws<InvalidOperationException>(() => s.Add(kick));
    }

    [Fact]
    public void Add_HandleDisposedWhileAdded_FdStaysOpenUntilRemoved()
    {
        using var s = new EpollWorkerSignal();
        var kick = new EventFd();
        s.Add(kick);
        int fd = kick.Handle.Fd;
        kick.Dispose();                      // the signal's reference keeps the number from being closed
        Assert.True(System.IO.File.Exists($"/proc/self/fd/{fd}"));
        Assert.True(s.Remove(kick.Handle));
        Assert.False(System.IO.File.Exists($"/proc/self/fd/{fd}"));
    }

    [Fact]
    public void Methods_AfterDispose_ThrowObjectDisposed()
    {
        var s = new EpollWorkerSignal();
        using var kick = new EventFd();
        s.Dispose();
        s.Dispose();
        Assert.Throws<ObjectDisposedException>(s.Notify);
        Assert.Throws<ObjectDisposedException>(() => s.Wait(0));
        Assert.Throws<ObjectDisposedException>(() => s.Add(kick));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Wait_NotifyWaitRace_NoLostWakeup(bool throughAddedEventFd)
    {
        // A producer publishes work then signals; the consumer takes the work it sees and waits only
        // when it sees none. A lost wake-up shows as a Wait timing out while work is pending.
        const int Items = 20_000;
        using var s = new EpollWorkerSignal();
        using var kick = new EventFd();
        s.Add(kick);
        long produced = 0;
        var producer = new Thread(() =>
        {
            for (int i = 0; i < Items; i++)
            {
                Interlocked.Increment(ref produced);
                if (throughAddedEventFd)
                {
                    kick.Notify();
                }
                else
                {
                    s.Notify();
                }

                if ((i & 63) == 0)
                {
                    Thread.Yield();
                }
            }
        });
        producer.Start();

        long seen = 0;
        int waits = 0;
        while (seen < Items)
        {
            long p = Interlocked.Read(ref produced);
            if (p > seen)
            {
                seen = p;
                continue;
            }

            waits++;
            Assert.True(s.Wait(5000), $"lost wake-up: seen {seen} of {Items} after {waits} waits");
        }

        producer.Join();
    }
}
