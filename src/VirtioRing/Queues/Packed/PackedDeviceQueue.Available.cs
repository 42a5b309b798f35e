using System.Runtime.CompilerServices;
using VirtioRing.Memory;

namespace VirtioRing.Queues.Packed;

/// <summary>Device side, available descriptors: pop and validate chains (§2.8.6, §2.8.7).</summary>
public sealed unsafe partial class PackedDeviceQueue
{
    private ushort _nextAvail;       // next ring slot to read
    private bool _availWrap;         // the driver ring wrap counter expected there
    private int _slotsOutstanding;   // ring slots popped and not yet pushed as used, in [0, size]

    /// <inheritdoc/>
    public PopStatus TryPopAvailable(out DescriptorChain chain)
    {
        if (_fault != VirtqueueFault.None)
        {
            chain = default;
            return PopStatus.Broken;
        }

        ushort slot = _nextAvail;
        byte* d = _ring + (slot * Descriptor.Size);

        // Acquire: the descriptor's other fields, and the buffers, are read only after its flags (the driver stores them last, after a barrier).
        ushort flags = PackedRing.LoadFlagsAcquire(d);
        if (!PackedRing.IsAvailable(flags, _availWrap))
        {
            chain = default;
            return PopStatus.Empty;
        }

        // One copy: the flags were loaded above; the other fields are read once, here, and the
        // general walk goes on from this copy.
        ulong address = PackedRing.ReadAddress(d);
        uint length = PackedRing.ReadLength(d);
        ushort id = PackedRing.ReadId(d);
        if ((flags & (ushort)(DescriptorFlags.Next | DescriptorFlags.Indirect)) != 0)
        {
            return PopList(slot, flags, address, length, id, out chain);
        }

        // The common case: one direct descriptor. The checks and their order are the general walk's.
        if (_slotsOutstanding >= _size)
        {
            chain = default;
            return Fail(VirtqueueFault.TooManyInFlight);   // the driver re-exposed a slot not yet used
        }

        VirtqueueFault fault = _arena.TryTakeSingle(address, length, (flags & (ushort)DescriptorFlags.DeviceWritable) != 0, id, out chain);
        if (fault != VirtqueueFault.None)
        {
            return Fail(fault);
        }

        bool[] idHeld = _idHeld;   // its length is the queue size
        if (id >= (uint)idHeld.Length || idHeld[id])
        {
            return AbortTaken(ref chain, id >= (uint)idHeld.Length ? VirtqueueFault.DescriptorIndexOutOfRange : VirtqueueFault.TooManyInFlight);
        }

        idHeld[id] = true;
        slot++;
        if (slot == _size)
        {
            slot = 0;
            _availWrap = !_availWrap;
        }

        _nextAvail = slot;
        _slotsOutstanding++;
        if (_popOrder is not null)
        {
            AppendPopOrder(chain.Slot);
        }

        return PopStatus.Popped;
    }

    /// <summary>
    /// A head with NEXT or INDIRECT. A direct pair (header + payload) whose second descriptor is
    /// already exposed is taken in one step, with the general walk's checks in its order (the
    /// budget and queue-size checks hold before anything is taken); anything else walks on in
    /// <see cref="PopChain"/>, from the copies made here (each descriptor is read once).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private PopStatus PopList(ushort slot, ushort flags, ulong address, uint length, ushort id, out DescriptorChain chain)
    {
        if ((flags & (ushort)DescriptorFlags.Indirect) != 0 || _size - _slotsOutstanding < 2)
        {
            return PopChain(flags, address, length, id, false, 0, out chain);
        }

        ushort second = (ushort)(slot + 1);
        bool wrap = _availWrap;
        if (second == _size)
        {
            second = 0;
            wrap = !wrap;
        }

        byte* d = _ring + (second * Descriptor.Size);
        ushort flags1 = PackedRing.LoadFlagsAcquire(d);
        if (!PackedRing.IsAvailable(flags1, wrap) || (flags1 & (ushort)(DescriptorFlags.Next | DescriptorFlags.Indirect)) != 0)
        {
            return PopChain(flags, address, length, id, true, flags1, out chain);
        }

        ulong address1 = PackedRing.ReadAddress(d);
        uint length1 = PackedRing.ReadLength(d);
        ushort id1 = PackedRing.ReadId(d);   // §2.8.6: the list's buffer id is the last descriptor's
        VirtqueueFault fault = _arena.TryTakePair(
            address, length, (flags & (ushort)DescriptorFlags.DeviceWritable) != 0,
            address1, length1, (flags1 & (ushort)DescriptorFlags.DeviceWritable) != 0,
            id1, out chain);
        if (fault != VirtqueueFault.None)
        {
            return Fail(fault);
        }

        bool[] idHeld = _idHeld;   // its length is the queue size
        if (id1 >= (uint)idHeld.Length || idHeld[id1])
        {
            return AbortTaken(ref chain, id1 >= (uint)idHeld.Length ? VirtqueueFault.DescriptorIndexOutOfRange : VirtqueueFault.TooManyInFlight);
        }

        idHeld[id1] = true;
        second++;
        if (second == _size)
        {
            second = 0;
            wrap = !wrap;
        }

        _nextAvail = second;
        _availWrap = wrap;
        _slotsOutstanding += 2;
        if (_popOrder is not null)
        {
            AppendPopOrder(chain.Slot);
        }

        return PopStatus.Popped;
    }

    /// <summary>
    /// The general case: a list of several descriptors, or an indirect one. The head's fields were
    /// read once by the caller; the rest of the list is read here, each descriptor once.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private PopStatus PopChain(ushort flags, ulong address, uint length, ushort id, bool haveSecondFlags, ushort secondFlags, out DescriptorChain chain)
    {
        chain = default;
        if (!_arena.TryBegin(out PendingChain pending))
        {
            return Fail(VirtqueueFault.TooManyInFlight);
        }

        ushort slot = _nextAvail;
        bool wrap = _availWrap;
        int budget = _size - _slotsOutstanding;   // ring slots the driver may legitimately have exposed
        int count = 0;
        VirtqueueFault fault;
        while (true)
        {
            count++;
            if (count > budget)
            {
                return Abort(pending.Slot, VirtqueueFault.TooManyInFlight);
            }

            if ((flags & (ushort)DescriptorFlags.Indirect) != 0)
            {
                // §2.8.7: only with INDIRECT_DESC, and an indirect descriptor is a list on its own.
                if (!_indirect || count != 1 || (flags & (ushort)DescriptorFlags.Next) != 0)
                {
                    return Abort(pending.Slot, VirtqueueFault.IndirectNotAllowed);
                }

                // The table walk gets a copy: taking the address of `pending` itself would keep
                // it in memory (not registers) for the direct walk as well.
                PendingChain table = pending;
                fault = WalkIndirect(ref table, address, length);
                pending = table;
                if (fault != VirtqueueFault.None)
                {
                    return Abort(pending.Slot, fault);
                }

                break;
            }

            fault = _arena.Append(ref pending, address, length, (flags & (ushort)DescriptorFlags.DeviceWritable) != 0);
            if (fault != VirtqueueFault.None)
            {
                return Abort(pending.Slot, fault);
            }

            if ((flags & (ushort)DescriptorFlags.Next) == 0)
            {
                break;
            }

            if (count == _size)
            {
                // No list is longer than the queue size (§2.8.17). A ring full of NEXT is the packed ring's loop.
                return Abort(pending.Slot, VirtqueueFault.ChainTooLong);
            }

            PackedRing.Advance(ref slot, ref wrap, 1, _size);
            byte* d = _ring + (slot * Descriptor.Size);
            // The second descriptor's flags may have been loaded (acquire) by PopList: not read again.
            flags = count == 1 && haveSecondFlags ? secondFlags : PackedRing.LoadFlagsAcquire(d);
            if (!PackedRing.IsAvailable(flags, wrap))
            {
                // The rest of the list is not exposed yet: take nothing, read it again later (no spin).
                _arena.Abort(pending.Slot);
                return PopStatus.Empty;
            }

            // One copy of each later descriptor too.
            address = PackedRing.ReadAddress(d);
            length = PackedRing.ReadLength(d);
            id = PackedRing.ReadId(d);
        }

        // §2.8.6: the buffer id is the one of the last descriptor of the list.
        if (id >= _size)
        {
            return Abort(pending.Slot, VirtqueueFault.DescriptorIndexOutOfRange);
        }

        if (_idHeld[id])
        {
            return Abort(pending.Slot, VirtqueueFault.TooManyInFlight);
        }

        _idHeld[id] = true;
        PackedRing.Advance(ref slot, ref wrap, 1, _size);
        _nextAvail = slot;
        _availWrap = wrap;
        _slotsOutstanding += count;
        chain = _arena.Complete(in pending, id, (ushort)count);
        if (_popOrder is not null)
        {
            AppendPopOrder(pending.Slot);
        }

        return PopStatus.Popped;
    }

    private void AppendPopOrder(ushort arenaSlot)
    {
        int tail = _popOrderHead + _popOrderCount;
        _popOrder![tail >= _size ? tail - _size : tail] = arenaSlot;
        _popOrderCount++;
    }

    /// <summary>
    /// Appends the entries of an indirect table (§2.8.7): read in sequence, each once; NEXT and the
    /// id are reserved there and ignored, INDIRECT is refused.
    /// </summary>
    private VirtqueueFault WalkIndirect(ref PendingChain pending, ulong address, uint length)
    {
        if (length == 0 || (length % Descriptor.Size) != 0)
        {
            return VirtqueueFault.IndirectTableLength;
        }

        uint entries = length / Descriptor.Size;
        if (entries > (uint)_size)
        {
            return VirtqueueFault.ChainTooLong;
        }

        GuestMemoryStatus status = _arena.Memory.TryTranslate(address, length, out byte* table);
        if (status != GuestMemoryStatus.Ok)
        {
            return status == GuestMemoryStatus.AddressOverflow ? VirtqueueFault.AddressOverflow : VirtqueueFault.BufferOutOfRange;
        }

        for (uint i = 0; i < entries; i++)
        {
            byte* e = table + (i * Descriptor.Size);
            ulong a = PackedRing.ReadAddress(e);
            uint l = PackedRing.ReadLength(e);
            ushort f = PackedRing.ReadFlagsRelaxed(e);
            if ((f & (ushort)DescriptorFlags.Indirect) != 0)
            {
                return VirtqueueFault.NestedIndirect;
            }

            VirtqueueFault fault = _arena.Append(ref pending, a, l, (f & (ushort)DescriptorFlags.DeviceWritable) != 0);
            if (fault != VirtqueueFault.None)
            {
                return fault;
            }
        }

        return VirtqueueFault.None;
    }

    /// <summary>Gives back a chain taken by the single-descriptor path whose id turned out bad.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private PopStatus AbortTaken(ref DescriptorChain chain, VirtqueueFault fault)
    {
        _arena.Abort(chain.Slot);
        chain = default;
        return Fail(fault);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private PopStatus Abort(ushort slot, VirtqueueFault fault)
    {
        _arena.Abort(slot);
        return Fail(fault);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private PopStatus Fail(VirtqueueFault fault)
    {
        _fault = fault;
        return PopStatus.Broken;
    }
}
