using System.Diagnostics;
using System.Threading;

namespace QueueDemo;

/// <summary>
/// Stands in for an eventfd: the side that was told to notify rings it, the other side waits for
/// it. A waiter reads <see cref="Count"/> before it re-enables notifications and then waits for a
/// change, so a ring that happens in between is never lost. Waiting spins (the demo measures the
/// ring, not the kernel), with a timeout that turns a lost notification into an error, not a hang.
/// </summary>
internal sealed class Doorbell
{
    private int _count;

    /// <summary>Gets how often the doorbell was rung.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Rings the doorbell.</summary>
    public void Ring() => Interlocked.Increment(ref _count);

    /// <summary>Waits until the doorbell was rung since <paramref name="seen"/> was read, or the run stopped.</summary>
    /// <returns><see langword="false"/> when the timeout passed first.</returns>
    public bool WaitForRing(int seen, StopFlag stop, long timeoutTicks)
    {
        long start = Stopwatch.GetTimestamp();
        var spin = default(SpinWait);
        while (Volatile.Read(ref _count) == seen && !stop.IsSet)
        {
            spin.SpinOnce(sleep1Threshold: -1);
            if (Stopwatch.GetTimestamp() - start > timeoutTicks)
            {
                return false;
            }
        }

        return true;
    }
}
