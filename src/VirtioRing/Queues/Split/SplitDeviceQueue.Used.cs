using System.Runtime.CompilerServices;

namespace VirtioRing.Queues.Split;

/// <content>Returning chains as used: the used ring, IN_ORDER batching, publishing used.idx.</content>
public sealed unsafe partial class SplitDeviceQueue
{
    /// <inheritdoc/>
    /// <remarks>
    /// The element is written at the shadow used index and becomes visible at <see cref="PublishUsed"/>.
    /// Under <c>IN_ORDER</c>, zero-length pushes open (or extend) one used element that the next push
    /// overwrites with its own id and length, so a run of zero-length buffers followed by one more is
    /// a single element carrying the last id (§2.7.9), while used.idx still counts every buffer.
    /// On a broken queue the chain is released and nothing is written.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PushUsed(in DescriptorChain chain, uint writtenLength)
    {
        if (writtenLength > chain.WritableLength)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(writtenLength), "More bytes than the chain's writable buffers hold.");
        }

        // Checked before anything else: a stale or foreign chain throws, changing nothing (and logging nothing).
        if (_inOrder)
        {
            CheckInOrder(chain);
        }
        else if (!ReferenceEquals(chain.Arena, _arena) || !_arena.IsCurrent(chain.Slot, chain.Generation))
        {
            ThrowHelper.ThrowInvalidOperation("The chain is not held by this queue: it was already pushed as used, or it came from another queue.");
        }

        GuestWriteLog? log = _writeLog;
        if (log is not null && writtenLength != 0)
        {
            log.LogChain(chain, writtenLength);   // while the chain is held: its segments are readable
        }

        _arena.ReleaseChecked(chain.Slot);
        if (_fault != VirtqueueFault.None)
        {
            return;
        }

        ushort usedIndex = _nextUsed;
        if (_inOrder)
        {
            if (!_runOpen)
            {
                _runIndex = usedIndex;
                _runOpen = true;
            }

            SplitRing.WriteUsedElement(_used, _runIndex & _mask, chain.Id, writtenLength);
            _runOpen = writtenLength == 0;
            log?.LogDeviceAreaWrite(SplitRing.RingOffset + ((ulong)SplitRing.UsedElementSize * (_runIndex & _mask)), SplitRing.UsedElementSize);
        }
        else
        {
            SplitRing.WriteUsedElement(_used, usedIndex & _mask, chain.Id, writtenLength);
            log?.LogDeviceAreaWrite(SplitRing.RingOffset + ((ulong)SplitRing.UsedElementSize * (usedIndex & _mask)), SplitRing.UsedElementSize);
        }

        _nextUsed = unchecked((ushort)(usedIndex + 1));
    }

    /// <inheritdoc/>
    /// <remarks>One release store of used.idx; a broken queue publishes nothing and returns 0.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PublishUsed()
    {
        ushort next = _nextUsed;
        int count = unchecked((ushort)(next - _publishedUsed));
        if (count == 0 || _fault != VirtqueueFault.None)
        {
            return 0;
        }

        // Write barrier before updating used.idx (§2.7.8.2): the elements are visible before the index.
        RingOrdering.StoreRelease(ref SplitRing.Field(_used, SplitRing.IndexOffset), next);
        _writeLog?.LogDeviceAreaWrite(SplitRing.IndexOffset, sizeof(ushort));
        _publishedUsed = next;
        _runOpen = false;   // the element is visible now: the next zero-length push starts a new one
        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckInOrder(in DescriptorChain chain)
    {
        if (!ReferenceEquals(chain.Arena, _arena) || !chain.IsHeld)
        {
            ThrowHelper.ThrowInvalidOperation("The chain is not held by this queue: it was already pushed as used, or it came from another queue.");
        }

        // A held chain of this queue was popped after the last push, so the queue of pops is not empty.
        if (_popOrder![_pushSequence & _mask] != chain.Slot)
        {
            ThrowHelper.ThrowInvalidOperation("IN_ORDER was negotiated: chains must be pushed in the order they were popped.");
        }

        _pushSequence = unchecked((ushort)(_pushSequence + 1));
    }
}
