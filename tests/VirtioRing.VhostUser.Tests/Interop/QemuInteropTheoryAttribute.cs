using System;
using System.IO;
using System.Linq;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Interop;

/// <summary>
/// A theory that boots QEMU guests: skipped, with the reason, when <c>qemu-system-x86_64</c> or a Debian cloud
/// kernel (<c>/boot/vmlinuz-*cloud*</c>) is missing — except when the environment variable <c>CI</c> is set, where a
/// missing peer is a failure, not a skip (tests/run provisions them).
/// </summary>
public sealed class QemuInteropTheoryAttribute : TheoryAttribute
{
    public QemuInteropTheoryAttribute()
    {
        Skip = SkipReason();
    }

    /// <summary>Gets why QEMU tests cannot run here, or null (always null in CI, where a missing peer fails the test).</summary>
    internal static string? SkipReason()
    {
        if (Environment.GetEnvironmentVariable("CI") is { Length: > 0 })
        {
            return null;
        }

        if (!OnPath("qemu-system-x86_64"))
        {
            return "qemu-system-x86_64 is not installed (Debian: qemu-system-x86); set CI to make this a failure.";
        }

        if (!Directory.Exists("/boot") || !Directory.EnumerateFiles("/boot", "vmlinuz-*cloud*").Any())
        {
            return "no /boot/vmlinuz-*cloud* kernel (Debian: linux-image-cloud-amd64); set CI to make this a failure.";
        }

        return null;
    }

    internal static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));
}
