using System;
using System.Diagnostics;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// Frames on the active transmit queues in turn. The most even spread, but consecutive frames of one flow go
/// to different queues and may be reordered (TCP treats reordering as loss): right only for unordered,
/// stateless traffic or for exercising every queue.
/// </summary>
/// <remarks>One instance per sending thread; shared between threads, a race only skews the rotation.</remarks>
[DebuggerDisplay("RoundRobin next {_next}")]
public sealed class RoundRobinTxQueueSelector : ITxQueueSelector
{
    private int _next;

    /// <inheritdoc/>
    public ushort SelectTransmitQueue(ReadOnlySpan<byte> frame, ushort activePairs)
    {
        if (activePairs == 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(activePairs), "At least one pair is active.");
        }

        int queue = _next;
        if ((uint)queue >= activePairs)
        {
            queue = 0;   // wrapped, or pairs were removed
        }

        _next = queue + 1;
        return (ushort)queue;
    }
}
