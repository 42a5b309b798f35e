using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Tmds.Linux;
using Xunit;

namespace VirtioRing.Linux.Tests;

public sealed class EventFdTests
{
    [Fact]
    public void TryConsume_AfterThreeNotifies_ReturnsTheSumOnceThenFalse()
    {
        using var e = new EventFd();
        e.Notify();
        e.Notify();
        e.Notify();

        Assert.True(e.TryConsume(out ulong value));
        Assert.Equal(3UL, value);
        Assert.False(e.TryConsume(out value));
        Assert.Equal(0UL, value);
    }

    [Fact]
    public void TryConsume_Empty_ReturnsFalseWithoutBlockingOrThrowing()
    {
        using var e = new EventFd();
        Assert.False(e.TryConsume());
        Assert.True(e.Handle.IsNonBlocking());
    }

    [Fact]
    public void TryConsume_InitialValue_IsSignalled()
    {
        using var e = new EventFd(initialValue: 5);
        Assert.True(e.TryConsume(out ulong value));
        Assert.Equal(5UL, value);
    }

    [Fact]
    public void TryConsume_Semaphore_TakesOneAtATime()
    {
        using var e = new EventFd(semaphore: true);
        e.Notify();
        e.Notify();
        Assert.True(e.TryConsume(out ulong a));
        Assert.True(e.TryConsume(out ulong b));
        Assert.False(e.TryConsume());
        Assert.Equal(1UL, a);
        Assert.Equal(1UL, b);
    }

    [Fact]
    public void Read_NothingNotified_TimesOutFalse()
    {
        using var e = new EventFd();
        long start = Environment.TickCount64;
        Assert.False(e.Read(50, out ulong value));
        Assert.Equal(0UL, value);
        Assert.True(Environment.TickCount64 - start >= 40, "returned before the timeout");
    }

    /// <summary>
    /// A child process's exit interrupts <c>poll</c> on the thread that started it (SIGCHLD goes to that thread, and
    /// <c>poll</c> is never restarted): an interruption, not a failure, and the wait goes on to its timeout.
    /// </summary>
    [Fact]
    public void Read_ChildOfTheWaitingThreadExits_WaitsOnUntilTheTimeout()
    {
        using var e = new EventFd();
        using Process child = Process.Start(new ProcessStartInfo("sleep", "0.1") { UseShellExecute = false })!;
        long start = Environment.TickCount64;
        Assert.False(e.Read(1000, out ulong value));
        Assert.Equal(0UL, value);
        Assert.True(Environment.TickCount64 - start >= 900, "returned before the timeout");
        Assert.True(child.HasExited, "the child did not exit during the wait");
    }

    [Fact]
    public async Task Read_NotifiedFromAnotherThread_Wakes()
    {
        using var e = new EventFd();
        Task<ulong> reader = Task.Run(() => e.Read(10_000, out ulong v) ? v : 0UL);
        Thread.Sleep(20);
        e.Notify();
        Assert.Equal(1UL, await reader.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Notify_CounterAtMaximum_DoesNotBlockOrThrow()
    {
        using var e = new EventFd();
        // Fill the counter to its maximum (2^64 - 2) by writing directly; Notify then hits EAGAIN.
        WriteCounter(e, ulong.MaxValue - 1);
        e.Notify();
        Assert.True(e.TryConsume(out ulong value));
        Assert.Equal(ulong.MaxValue - 1, value);
    }

    [Fact]
    public void FromHandle_DuplicateOfAnotherEventFd_SharesTheCounterAndIsNonBlocking()
    {
        using var original = new EventFd();
        using var received = EventFd.FromHandle(SafeFileDescriptor.Duplicate(original.Handle));
        Assert.NotEqual(original.Handle.Fd, received.Handle.Fd);

        original.Notify();
        original.Notify();
        Assert.True(received.TryConsume(out ulong value));
        Assert.Equal(2UL, value);
        Assert.True(received.Handle.IsNonBlocking());
        Assert.False(original.TryConsume());
    }

    [Fact]
    public void FromHandle_NotAnOpenDescriptor_ThrowsLinuxExceptionWithStrerrorText()
    {
        // An fd number far above anything the test process has open.
        var bogus = new SafeFileDescriptor(1_000_000, ownsHandle: false);
        LinuxException ex = Assert.Throws<LinuxException>(() => EventFd.FromHandle(bogus));

        Assert.Equal(LibC.EBADF, ex.Errno);
        Assert.Equal("fcntl", ex.CallName);
        Assert.Equal("Bad file descriptor", ex.ErrorText);
        Assert.Contains("fcntl failed: Bad file descriptor (errno 9)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromHandle_InvalidHandle_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => EventFd.FromHandle(new SafeFileDescriptor()));
    }

    [Fact]
    public void Notify_AfterDispose_ThrowsObjectDisposed()
    {
        var e = new EventFd();
        e.Dispose();
        Assert.Throws<ObjectDisposedException>(e.Notify);
        Assert.Throws<ObjectDisposedException>(() => e.TryConsume());
        Assert.Throws<ObjectDisposedException>(() => e.Handle.Fd);
    }

    [Fact]
    public void Notify_ManyThreads_CountsEveryNotify()
    {
        using var e = new EventFd();
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 1000; i++)
            {
                e.Notify();
            }
        });
        Assert.True(e.TryConsume(out ulong value));
        Assert.Equal(4000UL, value);
    }

    private static unsafe void WriteCounter(EventFd e, ulong value)
    {
        ulong v = value;
        Assert.Equal(8L, (long)LibC.write(e.Handle.Fd, &v, 8));
    }
}
