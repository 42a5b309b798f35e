using VirtioRing.Memory;

namespace VirtioRing.Queues;

/// <summary>Driver-side settings beyond the layout.</summary>
/// <param name="IndirectTableArea">
/// Guest memory for indirect tables: <c>Size × MaxIndirectSegments × 16</c> bytes, 16-byte aligned.
/// Used only when <see cref="VirtqueueFeatures.IndirectDescriptors"/> was negotiated.
/// </param>
/// <param name="MaxIndirectSegments">The longest chain placed in one indirect table; 0 disables indirect tables.</param>
public sealed record DriverQueueOptions(GuestAddress IndirectTableArea = default, int MaxIndirectSegments = 0)
{
    /// <summary>Gets the options with indirect tables off.</summary>
    public static DriverQueueOptions Default { get; } = new();

    /// <summary>Gets the bytes of guest memory the indirect table area needs for a queue of <paramref name="queueSize"/>.</summary>
    /// <param name="queueSize">The queue size.</param>
    /// <returns>The area size in bytes.</returns>
    public ulong IndirectAreaBytes(int queueSize) => (ulong)queueSize * (ulong)MaxIndirectSegments * Descriptor.Size;
}
