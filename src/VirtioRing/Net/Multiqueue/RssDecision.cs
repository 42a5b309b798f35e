using System.Diagnostics;

namespace VirtioRing.Net.Multiqueue;

/// <summary>Where RSS puts a received frame, and the hash for the 20-byte header (virtio 1.2 §5.1.6.5.7.3, "RSS processing").</summary>
[DebuggerDisplay("rq {ReceiveQueue}, {Hash}")]
public readonly struct RssDecision
{
    /// <summary>Creates a decision.</summary>
    /// <param name="receiveQueue">The receive-queue index (0 = receiveq1).</param>
    /// <param name="hash">The hash and its type (<see cref="NetHashResult.None"/> when unclassified).</param>
    public RssDecision(ushort receiveQueue, NetHashResult hash)
    {
        ReceiveQueue = receiveQueue;
        Hash = hash;
    }

    /// <summary>Gets the receive-queue index (0 = receiveq1): the indirection-table entry, or the unclassified queue.</summary>
    public ushort ReceiveQueue { get; }

    /// <summary>Gets the hash: what <c>hash_value</c>/<c>hash_report</c> carry when <c>VIRTIO_NET_F_HASH_REPORT</c> is negotiated.</summary>
    public NetHashResult Hash { get; }
}
