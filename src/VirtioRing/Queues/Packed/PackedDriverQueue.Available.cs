using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace VirtioRing.Queues.Packed;

/// <summary>Driver side, available descriptors: add and publish chains (§2.8.6, §2.8.7, supplying buffers).</summary>
public sealed unsafe partial class PackedDriverQueue
{
    private ushort _nextAvail;       // next ring slot to write
    private bool _availWrap;         // the driver ring wrap counter there
    private bool _headPending;       // the first head of the batch, whose flags wait for PublishAvailable
    private ushort _headSlot;
    private ushort _headFlags;
    private int _addedChains;        // since the last publish
    private int _addedSlots;
    private uint _publishEpoch;   // counts publishes that exposed chains; see IsPublished

    /// <inheritdoc/>
    /// <remarks>
    /// The buffer id is written into every descriptor of the chain (the device reads it from the
    /// last one). Every descriptor is complete in the ring at once, except the flags of the first
    /// head of the batch, stored at <see cref="PublishAvailable"/>: the device polls that slot, so it
    /// sees whole chains only.
    /// </remarks>
    /// <exception cref="ArgumentException">
    /// <paramref name="segments"/> is empty, longer than the queue size, has a readable segment after
    /// a writable one, or adds up to 2^32 bytes or more.
    /// </exception>
    public bool TryAddChain(ReadOnlySpan<BufferSegment> segments, ulong token)
    {
        if (_fault != VirtqueueFault.None)
        {
            ThrowHelper.ThrowInvalidOperation("The queue is broken: the device returned a bad used descriptor.");
        }

        int n = segments.Length;
        if (n == 1)
        {
            return TryAddOne(in segments[0], token);
        }

        if (n == 0)
        {
            ThrowHelper.ThrowArgument(nameof(segments), "A chain has at least one segment.");
        }

        if (n > _size)
        {
            ThrowHelper.ThrowArgument(nameof(segments), "A chain cannot be longer than the queue size.");
        }

        ulong total = 0;
        ulong writable = 0;
        bool seenWritable = false;
        for (int i = 0; i < n; i++)
        {
            BufferSegment s = segments[i];
            total += s.Length;
            if (s.IsDeviceWritable)
            {
                seenWritable = true;
                writable += s.Length;
            }
            else if (seenWritable)
            {
                ThrowHelper.ThrowArgument(nameof(segments), "Device-readable segments must come before device-writable ones.");
            }
        }

        if (total > uint.MaxValue)
        {
            ThrowHelper.ThrowArgument(nameof(segments), "A chain's buffers must add up to less than 2^32 bytes.");
        }

        bool indirect = n > 1 && n <= _maxIndirect;
        int slots = indirect ? 1 : n;
        if (slots > _freeSlots)
        {
            return false;
        }

        Debug.Assert(_freeIdCount > 0, "a free ring slot implies a free buffer id");
        ushort id = _freeIds[--_freeIdCount];
        if (indirect)
        {
            WriteIndirect(segments, id);
        }
        else
        {
            ushort slot = _nextAvail;
            bool wrap = _availWrap;
            for (int i = 0; i < n; i++)
            {
                BufferSegment s = segments[i];
                ushort flags = (ushort)((i + 1 < n ? (ushort)DescriptorFlags.Next : 0)
                    | (s.IsDeviceWritable ? (ushort)DescriptorFlags.DeviceWritable : 0));
                WriteDescriptor(slot, wrap, s.Address.Value, s.Length, id, flags, isHead: i == 0);
                PackedRing.Advance(ref slot, ref wrap, 1, _size);
            }

            _nextAvail = slot;
            _availWrap = wrap;
        }

        Record(id, slots, token, (uint)writable);
        return true;
    }

    /// <summary>
    /// The one-segment chain (every receive buffer, every small transmit frame): one descriptor, no
    /// loop, no indirect decision (a single segment never goes indirect). Same checks as the general
    /// path: a single segment is always in order and below 2^32 bytes, and the queue is at least one long.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryAddOne(in BufferSegment segment, ulong token)
    {
        if (_freeSlots == 0)
        {
            return false;
        }

        Debug.Assert(_freeIdCount > 0, "a free ring slot implies a free buffer id");
        ushort id = _freeIds[--_freeIdCount];
        bool writable = segment.IsDeviceWritable;
        ushort slot = _nextAvail;
        bool wrap = _availWrap;
        WriteDescriptor(slot, wrap, segment.Address.Value, segment.Length, id, writable ? (ushort)DescriptorFlags.DeviceWritable : (ushort)0, isHead: true);
        PackedRing.Advance(ref slot, ref wrap, 1, _size);
        _nextAvail = slot;
        _availWrap = wrap;
        Record(id, 1, token, writable ? segment.Length : 0);
        return true;
    }

    /// <summary>Records an added chain of <paramref name="slots"/> ring slots (its id state, the free count, the add order), not yet published.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Record(ushort id, int slots, ulong token, uint writable)
    {
        ref IdState state = ref _ids[id];
        state.Token = token;
        state.WritableLength = writable;
        state.Slots = (ushort)slots;
        state.AddEpoch = _publishEpoch;
        _outstandingCount++;
        _freeSlots -= slots;
        if (_addOrder is not null)
        {
            int tail = _orderHead + _orderCount;
            _addOrder[tail >= _size ? tail - _size : tail] = id;
            _orderCount++;
        }

        _addedChains++;
        _addedSlots += slots;
    }

    /// <inheritdoc/>
    public int PublishAvailable()
    {
        if (_headPending)
        {
            // Release: every descriptor (and indirect table) written before becomes visible before this head (Updating flags).
            PackedRing.StoreFlagsRelease(_ring + (_headSlot * Descriptor.Size), _headFlags);
            _headPending = false;
        }

        _availSinceKick = Math.Min(_availSinceKick + _addedSlots, _size + 1);   // capped: more than a lap means "every slot"
        _publishedAvail = _nextAvail;
        _publishedAvailWrap = _availWrap;
        int published = _addedChains;
        if (published != 0)
        {
            _publishEpoch++;   // every chain added so far is now published
        }

        _addedChains = 0;
        _addedSlots = 0;
        return published;
    }

    /// <summary>Writes a chain as one ring descriptor pointing at the id's own indirect table (§2.8.7).</summary>
    private void WriteIndirect(ReadOnlySpan<BufferSegment> segments, ushort id)
    {
        ulong offset = (ulong)id * (ulong)_maxIndirect * Descriptor.Size;
        byte* table = _indirectTables + offset;
        for (int i = 0; i < segments.Length; i++)
        {
            BufferSegment s = segments[i];
            byte* e = table + (i * Descriptor.Size);
            // Only WRITE is valid inside an indirect table; the id is reserved (§2.8.7).
            PackedRing.WriteBody(e, s.Address.Value, s.Length, 0);
            PackedRing.StoreFlagsRelaxed(e, s.IsDeviceWritable ? (ushort)DescriptorFlags.DeviceWritable : (ushort)0);
        }

        WriteDescriptor(_nextAvail, _availWrap, _indirectArea + offset, (uint)(segments.Length * Descriptor.Size), id, (ushort)DescriptorFlags.Indirect, isHead: true);
        PackedRing.Advance(ref _nextAvail, ref _availWrap, 1, _size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteDescriptor(ushort slot, bool wrap, ulong address, uint length, ushort id, ushort flags, bool isHead)
    {
        byte* d = _ring + (slot * Descriptor.Size);
        PackedRing.WriteBody(d, address, length, id);
        flags |= PackedRing.AvailableBits(wrap);
        if (isHead && !_headPending)
        {
            _headPending = true;
            _headSlot = slot;
            _headFlags = flags;
            return;
        }

        // Ordered before the batch's first head by its release store; the device reads nothing past that head before it.
        PackedRing.StoreFlagsRelaxed(d, flags);
    }
}
