using System;
using System.IO;
using Xunit;

namespace VirtioRing.Linux.Tests.Infrastructure;

/// <summary>
/// A fact that needs a C compiler (<c>cc</c>) and the libc/kernel headers: skipped with the reason
/// where <c>cc</c> is missing — except when the environment variable <c>CI</c> is set, where it runs
/// (and fails, naming what is missing).
/// </summary>
public sealed class CcFactAttribute : FactAttribute
{
    public CcFactAttribute()
    {
        if (CCompiler.Path is null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            Skip = "no C compiler: `cc` is not on PATH (install gcc and linux-libc-dev to check struct layouts against the headers)";
        }
    }
}

/// <summary>Finds <c>cc</c> on PATH.</summary>
public static class CCompiler
{
    public static string? Path { get; } = Find();

    private static string? Find()
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        if (path is null)
        {
            return null;
        }

        foreach (string dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = System.IO.Path.Combine(dir, "cc");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
