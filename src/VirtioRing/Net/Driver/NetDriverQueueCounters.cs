using System.Diagnostics;

namespace VirtioRing.Net.Driver;

/// <summary>A snapshot of one driver queue's counters (read without a lock: each field is exact, the set is not atomic).</summary>
/// <param name="packets">Frames sent or received.</param>
/// <param name="bytes">Frame bytes (without the virtio-net header) sent or received.</param>
/// <param name="errors">Transmit: sends refused because the queue was full. Receive: frames dropped as malformed (too short).</param>
/// <param name="kicks">Device notifications sent for this queue.</param>
[DebuggerDisplay("packets={Packets} bytes={Bytes} errors={Errors} kicks={Kicks}")]
public readonly struct NetDriverQueueCounters(ulong packets, ulong bytes, ulong errors, ulong kicks)
{
    /// <summary>Gets the frames sent or received.</summary>
    public ulong Packets { get; } = packets;

    /// <summary>Gets the frame bytes (without the virtio-net header) sent or received.</summary>
    public ulong Bytes { get; } = bytes;

    /// <summary>Gets the transmit refusals (queue full) or dropped malformed receive frames.</summary>
    public ulong Errors { get; } = errors;

    /// <summary>Gets the device notifications (kicks) sent for this queue.</summary>
    public ulong Kicks { get; } = kicks;
}
