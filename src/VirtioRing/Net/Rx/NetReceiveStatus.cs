namespace VirtioRing.Net.Rx;

/// <summary>The outcome of writing a received frame into a receive queue.</summary>
public enum NetReceiveStatus
{
    /// <summary>The frame was written and its buffers pushed as used (publish them with the queue's <c>PublishUsed</c>).</summary>
    Delivered = 0,

    /// <summary>
    /// The driver has not made enough buffers available. Nothing was written or pushed; chains
    /// already popped stay held by the writer, in order, and are used first next time. Retry when
    /// the driver kicks, or drop the frame.
    /// </summary>
    NoBuffers,

    /// <summary>
    /// The frame can never be delivered as things stand: longer than the mode allows, larger than the
    /// one buffer a non-mergeable mode may use, or larger than every buffer the ring can hold at once.
    /// Drop it (and count it). Nothing was written; popped chains stay held for later frames.
    /// </summary>
    FrameTooLarge,

    /// <summary>The queue is broken (see its <c>Fault</c>); the writer forgot its held chains. Reset the queue.</summary>
    QueueBroken,
}
