using System.Runtime.CompilerServices;

namespace VirtioRing.Queues.Split;

/// <content>Reclaiming used buffers, validating what the device wrote.</content>
public sealed unsafe partial class SplitDriverQueue
{
    /// <inheritdoc/>
    /// <remarks>
    /// Faults: <see cref="VirtqueueFault.UsedIndexJump"/> (used.idx ahead by more than the chains
    /// published and not reclaimed), <see cref="VirtqueueFault.InvalidUsedId"/> (an id out of range,
    /// not outstanding, not yet published, or under <c>IN_ORDER</c> beyond what used.idx covers),
    /// <see cref="VirtqueueFault.InvalidUsedLength"/> (more than the chain's writable bytes).
    /// Under <c>IN_ORDER</c> a used element with id X completes every chain added before X as well:
    /// they come back one per call, in order, with a written length of 0, then X with its length.
    /// </remarks>
    public PopStatus TryReclaimUsed(out UsedBuffer used)
    {
        if (_fault != VirtqueueFault.None)
        {
            used = default;
            return PopStatus.Broken;
        }

        if (_batchOpen)
        {
            used = TakeNextInOrder();
            return PopStatus.Popped;
        }

        ushort next = _nextUsed;
        if (next == _usedIndex)
        {
            // Read barrier after reading used.idx (§2.7.14): the elements it covers are read after it.
            ushort index = RingOrdering.LoadAcquire(ref SplitRing.Field(_used, SplitRing.IndexOffset));
            ushort available = unchecked((ushort)(index - next));
            if (available == 0)
            {
                used = default;
                return PopStatus.Empty;
            }

            // Every used slot belongs to one published chain: the device cannot get further ahead.
            if (available > unchecked((ushort)(_publishedAvail - next)))
            {
                used = default;
                return Fail(VirtqueueFault.UsedIndexJump);
            }

            _usedIndex = index;
        }

        ulong element = SplitRing.ReadUsedElement(_used, next & _mask);   // read once
        uint id = (uint)element;
        uint length = (uint)(element >> 32);
        if (id > _mask)
        {
            used = default;
            return Fail(VirtqueueFault.InvalidUsedId);
        }

        ref HeadState state = ref _heads[id];
        if (state.Descriptors == 0 || !IsPublished(state.AddEpoch))
        {
            used = default;
            return Fail(VirtqueueFault.InvalidUsedId);
        }

        if (length > state.WritableLength)
        {
            used = default;
            return Fail(VirtqueueFault.InvalidUsedLength);
        }

        if (_inOrder)
        {
            // The element completes the chains at avail positions [next, position of id].
            ushort before = unchecked((ushort)(state.AvailPosition - next));
            if (before >= unchecked((ushort)(_usedIndex - next)))
            {
                used = default;
                return Fail(VirtqueueFault.InvalidUsedId);   // claims more buffers than used.idx covers
            }

            if (before != 0)
            {
                _batchOpen = true;
                _batchLastId = (ushort)id;
                _batchLastLength = length;
                used = TakeNextInOrder();
                return PopStatus.Popped;
            }
        }

        used = new UsedBuffer(state.Token, length);
        Release((ushort)id);
        return PopStatus.Popped;
    }

    /// <summary>IN_ORDER: hands out the oldest outstanding chain of the open batch.</summary>
    private UsedBuffer TakeNextInOrder()
    {
        ushort head = _availCopy![_nextUsed & _mask];
        uint length = 0;
        if (head == _batchLastId)
        {
            length = _batchLastLength;
            _batchOpen = false;
        }

        var used = new UsedBuffer(_heads[head].Token, length);
        Release(head);
        return used;
    }

    /// <summary>Frees a reclaimed chain's descriptors and moves past its used element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Release(ushort head)
    {
        ref HeadState state = ref _heads[head];
        _next[state.Last] = _freeHead;
        _freeHead = head;
        _freeCount += state.Descriptors;
        state.Descriptors = 0;
        _outstanding--;

        ushort next = unchecked((ushort)(_nextUsed + 1));
        _nextUsed = next;
        if (_eventIndex && _usedNotificationsEnabled)
        {
            // Keep asking for an interrupt at the next used buffer while they are on (as Linux does).
            RingOrdering.StoreRelaxed(ref SplitRing.UsedEvent(_avail, Layout.Size), next);
        }
    }

    /// <summary>
    /// Whether an outstanding chain was published: a publish since its add moved the epoch. (Avail
    /// positions cannot tell: out of order, a chain can stay outstanding while the 16-bit index laps.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsPublished(uint addEpoch) => addEpoch != _publishEpoch;
}
