using System.IO;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Infrastructure;

/// <summary>Counts this process's open descriptors (<c>/proc/self/fd</c>).</summary>
public static class FdCount
{
    public static int Current() => Directory.GetFiles("/proc/self/fd").Length;
}

/// <summary>Tests that count descriptors (or start devices whose threads open them) run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "vhost-user serial (fd counting)";
}
