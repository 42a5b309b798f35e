using System.Diagnostics;
using System.Threading;

namespace QueueDemo;

/// <summary>
/// Stands in for an eventfd: the side that was told to notify rings it, the other side waits for
/// it. A waiter reads <see cref="Count"/> before it re-enables notifications and then waits for a
/// change, so a ring that happens in between is never lost. Waiting polls for half a millisecond (as an adaptive busy-poll would), then blocks
/// (as a thread blocked in <c>read(eventfd)</c> would), so an idle side costs no CPU and a busy
/// machine does not turn every wait into a scheduler time slice. A timeout turns a lost
/// notification into an error, not a hang.
/// </summary>
internal sealed class Doorbell
{
    private static readonly long SpinTicks = Stopwatch.Frequency / 2000;   // poll for 0.5 ms before blocking
    private readonly object _gate = new();
    private int _count;
    private int _waiters;

    /// <summary>Gets how often the doorbell was rung.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Rings the doorbell, waking a blocked waiter.</summary>
    public void Ring()
    {
        // Interlocked is a full fence: either the waiter sees the new count, or we see the waiter.
        Interlocked.Increment(ref _count);
        if (Volatile.Read(ref _waiters) > 0)
        {
            lock (_gate)
            {
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Waits until the doorbell was rung since <paramref name="seen"/> was read, or the run stopped.</summary>
    /// <returns><see langword="false"/> when the timeout passed first.</returns>
    public bool WaitForRing(int seen, StopFlag stop, long timeoutTicks)
    {
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() - start < SpinTicks)
        {
            if (Volatile.Read(ref _count) != seen || stop.IsSet)
            {
                return true;
            }

            Thread.SpinWait(20);
        }

        lock (_gate)
        {
            Interlocked.Increment(ref _waiters);
            try
            {
                while (Volatile.Read(ref _count) == seen && !stop.IsSet)
                {
                    if (Stopwatch.GetTimestamp() - start > timeoutTicks)
                    {
                        return false;
                    }

                    Monitor.Wait(_gate, 10);   // re-check the stop flag now and then
                }
            }
            finally
            {
                Interlocked.Decrement(ref _waiters);
            }
        }

        return true;
    }
}
