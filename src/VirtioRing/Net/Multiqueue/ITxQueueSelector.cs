using System;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// Driver side: picks the transmit queue for an outgoing frame when several queue pairs are active
/// (virtio 1.2 §5.1.6.5.6: the driver "MAY transmit outgoing packets on one of the multiple transmitq1…transmitqN").
/// </summary>
/// <remarks>
/// <para>Which policy is right:</para>
/// <list type="table">
/// <item><term><see cref="FlowHashTxQueueSelector"/></term><description>General traffic of many flows. Keeps each flow on
/// one queue (no reordering within a flow) and spreads flows across queues. Its reply-aligned form also puts a
/// flow's transmit on the pair whose receive queue RSS picks for the replies (cache locality).</description></item>
/// <item><term><see cref="DestinationMacTxQueueSelector"/></term><description>One pair per peer (e.g. per peer guest on an
/// internal LAN): isolates peers from each other (a slow or flooded peer backs up only its own queue) and keeps
/// per-peer order; needs the MAC → pair map kept up to date.</description></item>
/// <item><term><see cref="FixedTxQueueSelector"/></term><description>A single sending thread, strict ordering of
/// everything, or tests: no spreading at all.</description></item>
/// <item><term><see cref="RoundRobinTxQueueSelector"/></term><description>Unordered, stateless traffic (or measuring
/// queues): the most even spread, but it reorders frames of one flow, which TCP punishes — not for general use.</description></item>
/// </list>
/// <para>Implementations are sealed and allocate nothing per frame; a caller that holds the concrete type (or a
/// generic parameter constrained to it) gets devirtualised calls. The frame is the Ethernet frame without the
/// virtio-net header; it may be anything and never makes a selector throw.</para>
/// </remarks>
public interface ITxQueueSelector
{
    /// <summary>Picks the transmit queue for <paramref name="frame"/>.</summary>
    /// <param name="frame">The outgoing Ethernet frame (without the virtio-net header).</param>
    /// <param name="activePairs">The number of active queue pairs (the last <c>VQ_PAIRS_SET</c>), at least 1.</param>
    /// <returns>A transmit-queue index below <paramref name="activePairs"/> (0 = transmitq1).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="activePairs"/> is 0.</exception>
    ushort SelectTransmitQueue(ReadOnlySpan<byte> frame, ushort activePairs);
}
