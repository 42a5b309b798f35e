namespace VirtioRing.TestKit;

/// <summary>The two virtqueue layouts (virtio 1.2 §2.7 split, §2.8 packed).</summary>
public enum QueueKind
{
    /// <summary>Descriptor table, available ring, used ring.</summary>
    Split,

    /// <summary>One descriptor ring with wrap counters, and two event suppression structures.</summary>
    Packed,
}
