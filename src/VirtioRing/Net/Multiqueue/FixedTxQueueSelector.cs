using System;
using System.Diagnostics;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// Every frame on one transmit queue. Right for a single sending thread, for traffic that must stay in one
/// order across flows, and for tests; it spreads nothing.
/// </summary>
[DebuggerDisplay("Fixed {Queue}")]
public sealed class FixedTxQueueSelector : ITxQueueSelector
{
    /// <summary>Creates the selector.</summary>
    /// <param name="queue">The transmit-queue index (0 = transmitq1).</param>
    public FixedTxQueueSelector(ushort queue) => Queue = queue;

    /// <summary>Gets the configured transmit queue.</summary>
    public ushort Queue { get; }

    /// <inheritdoc/>
    /// <remarks>When <see cref="Queue"/> is not active (pairs were removed), transmitq1, which always is.</remarks>
    public ushort SelectTransmitQueue(ReadOnlySpan<byte> frame, ushort activePairs)
    {
        if (activePairs == 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(activePairs), "At least one pair is active.");
        }

        return Queue < activePairs ? Queue : (ushort)0;
    }
}
