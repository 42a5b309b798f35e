using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading;

namespace VirtioRing.VhostUser.Backend;

/// <summary>
/// Unmaps guest memory a short grace period after the last queue using it was unbound, rather than at
/// once. <see cref="VirtioRing.Net.Engine.NetDevice.Stop"/> waits for a pair's round to end, but a
/// blocking worker may still be between its last round and its park (re-arming or disarming the
/// transmit queue's notifications) for a moment after it returns; unmapping then would make that
/// access fault. Until the engine waits for that too, the mapping outlives it by
/// <see cref="GracePeriod"/>.
/// </summary>
internal static class DeferredRelease
{
    /// <summary>How long a released mapping stays mapped.</summary>
    public static readonly TimeSpan GracePeriod = TimeSpan.FromMilliseconds(200);

    private static readonly ConcurrentQueue<(long Due, IDisposable Item)> Pending = new();
    private static readonly Timer Sweeper = new(static _ => Sweep(force: false), null, Timeout.Infinite, Timeout.Infinite);
    private static int _armed;

    /// <summary>Gets the number of items waiting to be released.</summary>
    public static int Count => Pending.Count;

    /// <summary>Releases <paramref name="item"/> after the grace period.</summary>
    public static void Schedule(IDisposable item)
    {
        Pending.Enqueue((Stopwatch.GetTimestamp() + (long)(GracePeriod.TotalSeconds * Stopwatch.Frequency), item));
        if (Interlocked.Exchange(ref _armed, 1) == 0)
        {
            Sweeper.Change(GracePeriod, GracePeriod);
        }
    }

    /// <summary>Waits for the grace period of everything scheduled so far, and releases it (tests; shutdown).</summary>
    public static void Drain()
    {
        Thread.Sleep(GracePeriod);
        Sweep(force: true);
    }

    private static void Sweep(bool force)
    {
        long now = Stopwatch.GetTimestamp();
        while (Pending.TryPeek(out (long Due, IDisposable Item) head) && (force || head.Due <= now))
        {
            if (Pending.TryDequeue(out (long Due, IDisposable Item) item))
            {
                item.Item.Dispose();
            }
        }

        if (!force && Pending.IsEmpty)
        {
            // Idle: stop the timer; a Schedule that raced with this re-arms it.
            Sweeper.Change(Timeout.Infinite, Timeout.Infinite);
            Interlocked.Exchange(ref _armed, 0);
            if (!Pending.IsEmpty && Interlocked.Exchange(ref _armed, 1) == 0)
            {
                Sweeper.Change(GracePeriod, GracePeriod);
            }
        }
    }
}
