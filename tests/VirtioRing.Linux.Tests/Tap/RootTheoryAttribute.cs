using System;
using VirtioRing.Linux.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>The theory form of <see cref="RootFactAttribute"/>: skipped with the reason without root, <c>/dev/net/tun</c> or <c>ip</c>, except in CI.</summary>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        string? missing = Requirements.MissingForNamespaces();
        if (missing is not null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            Skip = missing;
        }
    }
}
