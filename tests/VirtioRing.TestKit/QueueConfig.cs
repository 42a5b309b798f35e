using System;
using System.Globalization;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;

namespace VirtioRing.TestKit;

/// <summary>What a test queue pair is made of: layout, size, negotiated features, and the driver's indirect table limit.</summary>
/// <param name="Kind">Split or packed.</param>
/// <param name="Size">The queue size (split: a power of two ≤ 32768; packed: 1..32768).</param>
/// <param name="Features">The negotiated ring features.</param>
/// <param name="MaxIndirectSegments">The longest chain the driver puts in one indirect table (used only with <see cref="VirtqueueFeatures.IndirectDescriptors"/>).</param>
public sealed record QueueConfig(QueueKind Kind, int Size, VirtqueueFeatures Features, int MaxIndirectSegments = QueueConfig.DefaultMaxIndirectSegments)
{
    /// <summary>The driver's indirect table limit used unless a test says otherwise.</summary>
    public const int DefaultMaxIndirectSegments = 24;

    /// <summary>Gets whether the driver places multi-segment chains in indirect tables.</summary>
    public bool UsesIndirectTables => Features.HasFlag(VirtqueueFeatures.IndirectDescriptors) && MaxIndirectSegments > 0;

    /// <summary>Gets whether <c>VIRTIO_F_EVENT_IDX</c> was negotiated.</summary>
    public bool EventIndex => Features.HasFlag(VirtqueueFeatures.EventIndex);

    /// <summary>Gets whether <c>VIRTIO_F_IN_ORDER</c> was negotiated.</summary>
    public bool InOrder => Features.HasFlag(VirtqueueFeatures.InOrder);

    /// <summary>Gets the longest chain (in segments) the driver accepts with this configuration: the queue size, and the indirect table limit when tables are used.</summary>
    public int MaxChainSegments => UsesIndirectTables ? Math.Min(Size, MaxIndirectSegments) : Size;

    /// <summary>Gets whether <see cref="Size"/> is valid for <see cref="Kind"/>.</summary>
    public bool IsValid => (Kind == QueueKind.Split ? SplitQueueLayout.IsValidSize(Size) : PackedQueueLayout.IsValidSize(Size)) && MaxIndirectSegments >= 0;

    /// <summary>
    /// Gets how many descriptors of the ring itself (split: table entries; packed: ring slots) a chain
    /// of <paramref name="segmentCount"/> segments occupies: one when it goes into an indirect table
    /// (the driver does so for every chain of two or more segments), otherwise one per segment.
    /// </summary>
    /// <param name="segmentCount">The number of segments, at least one.</param>
    /// <returns>The ring descriptors used.</returns>
    public int RingDescriptorsFor(int segmentCount) =>
        UsesIndirectTables && segmentCount > 1 && segmentCount <= MaxIndirectSegments ? 1 : segmentCount;

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Kind} size={Size} features={Features} maxIndirect={MaxIndirectSegments}");
}
