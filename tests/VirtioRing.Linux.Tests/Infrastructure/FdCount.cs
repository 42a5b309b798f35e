using System.IO;
using Xunit;

namespace VirtioRing.Linux.Tests.Infrastructure;

/// <summary>Counts this process's open descriptors (<c>/proc/self/fd</c>).</summary>
public static class FdCount
{
    public static int Current() => Directory.GetFiles("/proc/self/fd").Length;
}

/// <summary>Tests that count descriptors run alone: no other test may open or close fds meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FdCountingCollection
{
    public const string Name = "fd counting (not parallel)";
}
