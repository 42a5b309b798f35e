using Xunit;

namespace VirtioRing.VhostUser.Tests.Interop;

/// <summary>A fact that boots QEMU guests: skipped as <see cref="QemuInteropTheoryAttribute"/> is (never in CI).</summary>
public sealed class QemuInteropFactAttribute : FactAttribute
{
    public QemuInteropFactAttribute()
    {
        Skip = QemuInteropTheoryAttribute.SkipReason();
    }
}
