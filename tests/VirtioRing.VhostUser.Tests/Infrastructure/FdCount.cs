using System;
using System.IO;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Infrastructure;

/// <summary>Counts this process's open descriptors (<c>/proc/self/fd</c>).</summary>
public static class FdCount
{
    public static int Current() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>
    /// Asserts that no descriptor opened since <paramref name="before"/> is still open. Fewer is fine: a finalizer
    /// may close one an earlier test left to the collector while this test ran.
    /// </summary>
    public static void AssertNoneLeaked(int before)
    {
        int after = Current();
        if (after > before)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            after = Current();
        }

        Xunit.Assert.True(after <= before, $"descriptors leaked: {before} before, {after} after");
    }
}

/// <summary>Tests that count descriptors (or start devices whose threads open them) run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "vhost-user serial (fd counting)";
}
