using VirtioRing.Queues;

namespace QueueDemo;

/// <summary>What one run of the demo does, as parsed from the command line.</summary>
internal sealed record DemoOptions(
    string Layout,
    int QueueSize,
    long Buffers,
    int Segments,
    int Batch,
    bool Indirect,
    bool EventIndex,
    bool InOrder)
{
    /// <summary>Payload bytes in each segment.</summary>
    public const int SegmentBytes = 64;

    /// <summary>Gets whether the run uses the packed layout (otherwise split).</summary>
    public bool IsPacked => Layout == "packed";

    /// <summary>Gets the negotiated features both sides use.</summary>
    public VirtqueueFeatures Features =>
        (Indirect ? VirtqueueFeatures.IndirectDescriptors : VirtqueueFeatures.None)
        | (EventIndex ? VirtqueueFeatures.EventIndex : VirtqueueFeatures.None)
        | (InOrder ? VirtqueueFeatures.InOrder : VirtqueueFeatures.None);

    /// <summary>Gets the payload bytes one buffer moves (the request the device reads, plus the response it writes).</summary>
    public int BytesPerBuffer => Segments * SegmentBytes;
}
