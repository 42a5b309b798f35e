namespace VirtioRing.VhostUser.Protocol;

/// <summary>
/// An inflight description: <c>mmap_size</c>, <c>mmap_offset</c> (u64), <c>num_queues</c>,
/// <c>queue_size</c> (u16), padded to 24 bytes as QEMU's C struct (<c>sizeof(VhostUserInflight)</c>) is.
/// </summary>
/// <param name="MmapSize">The size of the inflight area.</param>
/// <param name="MmapOffset">Where it starts in its file.</param>
/// <param name="QueueCount">The number of virtqueues.</param>
/// <param name="QueueSize">The size of each virtqueue.</param>
public readonly record struct VhostUserInflight(ulong MmapSize, ulong MmapOffset, ushort QueueCount, ushort QueueSize)
{
    /// <summary>The payload length in bytes (20 bytes of fields and 4 of padding).</summary>
    public const int Length = 24;
}
