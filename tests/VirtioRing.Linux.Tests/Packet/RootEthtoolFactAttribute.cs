using System;
using System.IO;
using VirtioRing.Linux.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.Linux.Tests.Packet;

/// <summary>
/// A <see cref="RootFactAttribute"/> that also needs <c>ethtool</c> (to switch a veth's offloads off, so the kernel
/// checks what the guest's offload requests produce): skipped with the reason where it is missing, except in CI.
/// </summary>
public sealed class RootEthtoolFactAttribute : FactAttribute
{
    public RootEthtoolFactAttribute()
    {
        string? missing = Requirements.MissingForNamespaces() ?? (Ethtool.Path is null ? "needs `ethtool` (to turn a veth's offloads off)" : null);
        if (missing is not null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            Skip = missing;
        }
    }
}

/// <summary>Finds <c>ethtool</c>.</summary>
public static class Ethtool
{
    public static string? Path { get; } =
        Array.Find(["/usr/sbin/ethtool", "/sbin/ethtool", "/usr/bin/ethtool", "/bin/ethtool"], File.Exists);
}
