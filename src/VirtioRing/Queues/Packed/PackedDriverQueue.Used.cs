using System.Runtime.CompilerServices;

namespace VirtioRing.Queues.Packed;

/// <summary>Driver side, used descriptors: reclaim and validate (§2.8.6, §2.8.8, receiving used buffers).</summary>
public sealed unsafe partial class PackedDriverQueue
{
    private ushort _nextUsed;        // next ring slot to poll for a used descriptor
    private bool _usedWrap;          // the device ring wrap counter expected there
    private int _orderHead;          // IN_ORDER FIFO of outstanding ids
    private int _orderCount;
    private bool _batchActive;       // IN_ORDER: completing the buffers up to _batchId
    private ushort _batchId;
    private uint _batchLength;

    /// <inheritdoc/>
    public PopStatus TryReclaimUsed(out UsedBuffer used)
    {
        used = default;
        if (_fault != VirtqueueFault.None)
        {
            return PopStatus.Broken;
        }

        if (_batchActive)
        {
            used = NextOfBatch();
            return PopStatus.Popped;
        }

        if (_outstandingCount == 0)
        {
            return PopStatus.Empty;
        }

        byte* d = _ring + (_nextUsed * Descriptor.Size);

        // Acquire: the id and length are read only after the flags say the descriptor is used.
        ushort flags = PackedRing.LoadFlagsAcquire(d);
        if (!PackedRing.IsUsed(flags, _usedWrap))
        {
            return PopStatus.Empty;
        }

        ushort id = PackedRing.ReadId(d);
        uint length = (flags & (ushort)DescriptorFlags.DeviceWritable) != 0 ? PackedRing.ReadLength(d) : 0;
        if (id >= _size || _ids[id].Slots == 0 || !IsPublished(_ids[id].AddEpoch))
        {
            return Fail(VirtqueueFault.InvalidUsedId);
        }

        if (length > _ids[id].WritableLength)
        {
            return Fail(VirtqueueFault.InvalidUsedLength);
        }

        if (_addOrder is not null)
        {
            _batchActive = true;
            _batchId = id;
            _batchLength = length;
            used = NextOfBatch();
            return PopStatus.Popped;
        }

        used = Complete(id, length);
        return PopStatus.Popped;
    }

    /// <summary>IN_ORDER: the oldest outstanding buffer; the batch ends with the one the device named.</summary>
    private UsedBuffer NextOfBatch()
    {
        ushort id = _addOrder![_orderHead];
        _orderHead = _orderHead + 1 == _size ? 0 : _orderHead + 1;
        _orderCount--;
        if (id != _batchId)
        {
            return Complete(id, 0);
        }

        _batchActive = false;
        return Complete(id, _batchLength);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private UsedBuffer Complete(ushort id, uint length)
    {
        ref IdState state = ref _ids[id];
        int slots = state.Slots;
        state.Slots = 0;
        _outstandingCount--;
        _freeIds[_freeIdCount++] = id;
        _freeSlots += slots;

        // The next used descriptor is written after the slots this buffer occupied (§2.8.6).
        PackedRing.Advance(ref _nextUsed, ref _usedWrap, slots, _size);
        return new UsedBuffer(state.Token, length);
    }

    /// <summary>
    /// Whether an outstanding chain was already published: chains added since the last publish carry
    /// the current epoch. (Ring positions cannot tell: with out-of-order completion a buffer may stay
    /// outstanding for many laps of the ring.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsPublished(uint addEpoch) => addEpoch != _publishEpoch;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private PopStatus Fail(VirtqueueFault fault)
    {
        _fault = fault;
        return PopStatus.Broken;
    }
}
