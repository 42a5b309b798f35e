using System;

namespace VirtioRing.TestKit;

/// <summary>
/// Measures what a piece of code allocates on the calling thread once it is warm. The runtime may
/// allocate on the thread for its own reasons while the code is being tiered up (which on a loaded
/// machine can still be happening after a warm-up), so the code is measured over a few windows and
/// the smallest figure is returned: a real per-call allocation shows in every window.
/// </summary>
public static class SteadyStateAllocation
{
    /// <summary>Runs <paramref name="round"/> for a warm-up, then measures windows of <paramref name="rounds"/> calls.</summary>
    /// <param name="round">One unit of work.</param>
    /// <param name="rounds">Calls per measured window.</param>
    /// <param name="windows">Windows to measure.</param>
    /// <returns>The fewest bytes allocated by the thread in one window.</returns>
    public static long Measure(Action round, int rounds, int windows = 3)
    {
        ArgumentNullException.ThrowIfNull(round);
        for (int i = 0; i < rounds; i++)
        {
            round();
        }

        long least = long.MaxValue;
        for (int w = 0; w < windows && least != 0; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < rounds; i++)
            {
                round();
            }

            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return least;
    }
}
