using System;

namespace VirtioRing.Queues;

/// <summary>The negotiated transport features that change how a ring is driven (virtio 1.2 §6).</summary>
[Flags]
public enum VirtqueueFeatures
{
    /// <summary>None: flag-based notification suppression, direct descriptors only, any completion order.</summary>
    None = 0,

    /// <summary><c>VIRTIO_F_INDIRECT_DESC</c> (bit 28): chains may use indirect descriptor tables.</summary>
    IndirectDescriptors = 1 << 0,

    /// <summary><c>VIRTIO_F_EVENT_IDX</c> (bit 29): <c>used_event</c>/<c>avail_event</c> (split) or descriptor-specific event suppression (packed).</summary>
    EventIndex = 1 << 1,

    /// <summary><c>VIRTIO_F_IN_ORDER</c> (bit 35): the device uses buffers in the order the driver made them available.</summary>
    InOrder = 1 << 2,
}
