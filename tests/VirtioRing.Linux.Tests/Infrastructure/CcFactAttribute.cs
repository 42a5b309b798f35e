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

/// <summary>Finds <c>cc</c> on PATH, and compiles and runs the small C programs the layout tests use.</summary>
public static class CCompiler
{
    public static string? Path { get; } = Find();

    /// <summary>
    /// Compiles <paramref name="source"/> (C11, warnings as errors) and runs it; it prints lines <c>name=value</c>,
    /// returned as a dictionary (sizes, offsets and constants as the headers define them).
    /// </summary>
    public static System.Collections.Generic.Dictionary<string, long> CompileAndRun(string source)
    {
        string dir = Directory.CreateTempSubdirectory("virtioring-layout-").FullName;
        try
        {
            string src = System.IO.Path.Combine(dir, "layout.c");
            string exe = System.IO.Path.Combine(dir, "layout");
            File.WriteAllText(src, source);
            Run(Path!, ["-std=c11", "-Wall", "-Werror", "-o", exe, src], out _);
            Run(exe, [], out string output);
            var result = new System.Collections.Generic.Dictionary<string, long>();
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = line.LastIndexOf('=');
                result[line[..eq]] = long.Parse(line[(eq + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }

            return result;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Run(string file, string[] arguments, out string stdout)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using System.Diagnostics.Process p = System.Diagnostics.Process.Start(psi)!;
        System.Threading.Tasks.Task<string> err = p.StandardError.ReadToEndAsync();
        stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), $"{file} did not finish");
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited with {p.ExitCode}: {err.Result}");
    }

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
