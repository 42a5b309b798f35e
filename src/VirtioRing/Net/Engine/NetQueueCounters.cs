using System;
using System.Diagnostics;

namespace VirtioRing.Net.Engine;

/// <summary>
/// A snapshot of one virtqueue's counters (<see cref="NetDevice.GetCounters"/>). For a transmit
/// queue, packets and bytes are frames handed to the backend; for a receive queue, frames written
/// into the guest's buffers. Bytes count the frame without the virtio-net header.
/// </summary>
[DebuggerDisplay("{Packets} packets, {Bytes} bytes, {TotalDrops} drops")]
public readonly struct NetQueueCounters : IEquatable<NetQueueCounters>
{
    /// <summary>Creates a snapshot.</summary>
    /// <param name="packets">Frames moved.</param>
    /// <param name="bytes">Bytes moved.</param>
    /// <param name="noBuffer">Deliveries refused because the receive queue had no (or too few) buffers.</param>
    /// <param name="filtered">Frames the receive filter refused.</param>
    /// <param name="badHeader">Transmit chains with a bad virtio-net header (returned to the guest unsent).</param>
    /// <param name="brokenQueue">Times the queue broke (a guest fault).</param>
    /// <param name="backendDropped">Frames the backend refused for good.</param>
    /// <param name="badFrame">Frames that could not be adapted or were too large for the guest's buffers.</param>
    /// <param name="busy">Times the backend answered busy and a transmit chain was held.</param>
    public NetQueueCounters(long packets, long bytes, long noBuffer, long filtered, long badHeader, long brokenQueue, long backendDropped, long badFrame, long busy)
    {
        Packets = packets;
        Bytes = bytes;
        NoBuffer = noBuffer;
        Filtered = filtered;
        BadHeader = badHeader;
        BrokenQueue = brokenQueue;
        BackendDropped = backendDropped;
        BadFrame = badFrame;
        Busy = busy;
    }

    /// <summary>Gets the frames moved.</summary>
    public long Packets { get; }

    /// <summary>Gets the bytes moved (frames without the virtio-net header).</summary>
    public long Bytes { get; }

    /// <summary>
    /// Gets the deliveries refused for lack of receive buffers. A refused frame stays with its sender, which offers it
    /// again (each refusal counts once more) or drops it and counts that drop itself (the switch:
    /// <see cref="Switching.NetSwitchPortCounters.DroppedNoBuffers"/>); a refusal is therefore not in <see cref="TotalDrops"/>.
    /// </summary>
    public long NoBuffer { get; }

    /// <summary>Gets the frames the receive filter refused.</summary>
    public long Filtered { get; }

    /// <summary>Gets the transmit chains with a bad header.</summary>
    public long BadHeader { get; }

    /// <summary>Gets the times the queue broke.</summary>
    public long BrokenQueue { get; }

    /// <summary>Gets the frames the backend dropped.</summary>
    public long BackendDropped { get; }

    /// <summary>Gets the frames refused as malformed (offload could not be done) or too large.</summary>
    public long BadFrame { get; }

    /// <summary>Gets the times a transmit chain was held because the backend was busy (not a drop).</summary>
    public long Busy { get; }

    /// <summary>Gets every frame this queue dropped: filtered, bad header, backend dropped and bad frame (not <see cref="NoBuffer"/>: refusals, which the sender keeps or drops).</summary>
    public long TotalDrops => Filtered + BadHeader + BackendDropped + BadFrame;

    /// <inheritdoc/>
    public bool Equals(NetQueueCounters other) =>
        Packets == other.Packets && Bytes == other.Bytes && NoBuffer == other.NoBuffer && Filtered == other.Filtered &&
        BadHeader == other.BadHeader && BrokenQueue == other.BrokenQueue && BackendDropped == other.BackendDropped &&
        BadFrame == other.BadFrame && Busy == other.Busy;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NetQueueCounters other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => (Packets * 31 + Bytes).GetHashCode() ^ (int)(TotalDrops * 17);

    /// <summary>Compares two snapshots.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(NetQueueCounters left, NetQueueCounters right) => left.Equals(right);

    /// <summary>Compares two snapshots.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(NetQueueCounters left, NetQueueCounters right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() =>
        $"packets {Packets}, bytes {Bytes}, no-buffer {NoBuffer}, filtered {Filtered}, bad-header {BadHeader}, broken {BrokenQueue}, backend-dropped {BackendDropped}, bad-frame {BadFrame}, busy {Busy}";
}
