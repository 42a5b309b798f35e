using System;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace VirtioRing.VhostUser.Tests.Interop;

/// <summary>
/// The project's QEMU harness (tests/interop/guest) and the boot image it builds, once per test run, into a fixed
/// cache directory under /tmp (build-image.sh rebuilds only when the kernel or the script changed).
/// </summary>
public static class GuestImage
{
    private static readonly Lazy<string> Built = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Gets the directory holding build-image.sh and run-guest.sh.</summary>
    public static string ScriptDirectory { get; } = FindScripts();

    /// <summary>Gets the image directory, building it on first use.</summary>
    public static string Directory => Built.Value;

    private static string Build()
    {
        string dir = Path.Combine(Path.GetTempPath(), "virtioring-interop-image");
        var start = new ProcessStartInfo("bash")
        {
            ArgumentList = { Path.Combine(ScriptDirectory, "build-image.sh"), dir },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process p = Process.Start(start) ?? throw new InvalidOperationException("bash did not start");
        System.Threading.Tasks.Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        System.Threading.Tasks.Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(300_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("build-image.sh took more than 300 s");
        }

        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"build-image.sh failed ({p.ExitCode}): {stdout.Result} {stderr.Result}");
        }

        return dir;
    }

    private static string FindScripts()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "tests", "interop", "guest");
            if (File.Exists(Path.Combine(candidate, "run-guest.sh")))
            {
                return candidate;
            }
        }

        return Path.Combine("tests", "interop", "guest");
    }
}
