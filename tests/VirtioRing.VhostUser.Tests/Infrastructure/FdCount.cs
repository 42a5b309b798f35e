using System;
using System.IO;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Infrastructure;

/// <summary>Counts this process's open descriptors (<c>/proc/self/fd</c>).</summary>
public static class FdCount
{
    /// <summary>
    /// Counts the open descriptors, leaving out assemblies and symbol files: the runtime opens those on first use
    /// (an exception path formatting its first stack trace loads System.Diagnostics.StackTrace.dll and the pdb, a
    /// message resource another assembly) and keeps them open for the life of the process. They are not leaks.
    /// </summary>
    public static int Current()
    {
        int count = 0;
        foreach (string f in Directory.GetFiles("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(f).LinkTarget;
            }
            catch (IOException)
            {
                continue;   // closed while listed
            }

            if (target is null || !(target.EndsWith(".dll", StringComparison.Ordinal) || target.EndsWith(".pdb", StringComparison.Ordinal)))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>Describes the <paramref name="count"/> highest-numbered descriptors (the likeliest new ones): number and target.</summary>
    public static string Newest(int count)
    {
        var fds = new System.Collections.Generic.List<int>();
        foreach (string f in Directory.GetFiles("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(f), out int n))
            {
                fds.Add(n);
            }
        }

        fds.Sort();
        var parts = new System.Collections.Generic.List<string>();
        for (int i = Math.Max(0, fds.Count - count); i < fds.Count; i++)
        {
            string target;
            try
            {
                target = new FileInfo("/proc/self/fd/" + fds[i]).LinkTarget ?? "?";
            }
            catch (IOException)
            {
                target = "(closed)";
            }

            parts.Add(fds[i] + " -> " + target);
        }

        return string.Join(", ", parts);
    }

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

        Xunit.Assert.True(after <= before, $"descriptors leaked: {before} before, {after} after; the newest: {Newest(after - before + 2)}");
    }
}

/// <summary>Tests that count descriptors (or start devices whose threads open them) run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "vhost-user serial (fd counting)";
}
