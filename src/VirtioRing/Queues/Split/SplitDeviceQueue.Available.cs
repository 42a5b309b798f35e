using System.Runtime.CompilerServices;
using VirtioRing.Memory;

namespace VirtioRing.Queues.Split;

/// <content>Popping available chains: the avail index, the descriptor walk, indirect tables.</content>
public sealed unsafe partial class SplitDeviceQueue
{
    private const ushort NextFlag = (ushort)DescriptorFlags.Next;
    private const ushort WritableFlag = (ushort)DescriptorFlags.DeviceWritable;
    private const ushort IndirectFlag = (ushort)DescriptorFlags.Indirect;

    /// <inheritdoc/>
    /// <remarks>
    /// Faults, each leaving the queue broken with nothing written to the used ring:
    /// <see cref="VirtqueueFault.AvailIndexJump"/> (avail.idx more than <see cref="Size"/> ahead),
    /// <see cref="VirtqueueFault.DescriptorIndexOutOfRange"/> (head or <c>next</c> not below the table size),
    /// <see cref="VirtqueueFault.DescriptorLoop"/> (the walk visits more descriptors than the table
    /// holds, which in one table can only be a revisit), <see cref="VirtqueueFault.ChainTooLong"/>
    /// (an indirect table with more entries than <see cref="Size"/>),
    /// <see cref="VirtqueueFault.IndirectNotAllowed"/>, <see cref="VirtqueueFault.IndirectTableLength"/>,
    /// <see cref="VirtqueueFault.NestedIndirect"/>, <see cref="VirtqueueFault.TooManyInFlight"/>,
    /// and the buffer faults of the chain store (<see cref="VirtqueueFault.BufferOutOfRange"/>,
    /// <see cref="VirtqueueFault.AddressOverflow"/>, <see cref="VirtqueueFault.ChainTooLarge"/>,
    /// <see cref="VirtqueueFault.WritableBeforeReadable"/>).
    /// </remarks>
    public PopStatus TryPopAvailable(out DescriptorChain chain)
    {
        if (_fault != VirtqueueFault.None)
        {
            chain = default;
            return PopStatus.Broken;
        }

        ushort next = _nextAvail;
        if (next == _availIndex)
        {
            // Read barrier after reading avail.idx (§2.7.13.3.1): the ring entries and descriptors
            // it covers are read after it.
            ushort index = RingOrdering.LoadAcquire(ref SplitRing.Field(_avail, SplitRing.IndexOffset));
            ushort available = unchecked((ushort)(index - next));
            if (available == 0)
            {
                chain = default;
                return PopStatus.Empty;
            }

            // The driver cannot have more than Size chains available: a bigger jump would make the
            // device walk stale entries over and over (rust-vmm vm-virtio #196).
            if (available > (uint)Layout.Size)
            {
                chain = default;
                return Fail(VirtqueueFault.AvailIndexJump);
            }

            _availIndex = index;
        }

        ushort head = SplitRing.ReadAvailEntry(_avail, next & _mask);   // read once
        if (head > _mask)
        {
            chain = default;
            return Fail(VirtqueueFault.DescriptorIndexOutOfRange);
        }

        // The head descriptor is copied out once, here; the general walk goes on from this copy.
        SplitRing.ReadDescriptor(_descriptors + (head * Descriptor.Size), out ulong address, out uint length, out ushort flags, out ushort link);
        VirtqueueFault fault;
        if ((flags & (NextFlag | IndirectFlag)) == 0)
        {
            fault = _arena.TryTakeSingle(address, length, (flags & WritableFlag) != 0, head, out chain);   // the common case: one direct buffer
        }
        else if ((flags & IndirectFlag) == 0 && link <= _mask && _mask != 0)
        {
            // Two or more direct descriptors, the second in range (and the queue longer than one, so
            // reading it is not a revisit): copy the second out once; a header + payload pair is
            // taken in one step, anything longer walks on from both copies.
            SplitRing.ReadDescriptor(_descriptors + (link * Descriptor.Size), out ulong address1, out uint length1, out ushort flags1, out ushort link1);
            fault = (flags1 & (NextFlag | IndirectFlag)) == 0
                ? _arena.TryTakePair(address, length, (flags & WritableFlag) != 0, address1, length1, (flags1 & WritableFlag) != 0, head, out chain)
                : PopChain(head, address, length, flags, link, true, address1, length1, flags1, link1, out chain);
        }
        else
        {
            fault = PopChain(head, address, length, flags, link, false, 0, 0, 0, 0, out chain);
        }
        if (fault != VirtqueueFault.None)
        {
            return Fail(fault);
        }

        next = unchecked((ushort)(next + 1));
        _nextAvail = next;
        if (_eventIndex && _notificationsEnabled)
        {
            // Keep asking for a kick at the next new chain while notifications are on (as QEMU does).
            RingOrdering.StoreRelaxed(ref SplitRing.AvailEvent(_used, Layout.Size), next);
            _writeLog?.LogDeviceAreaWrite(SplitRing.RingOffset + ((ulong)SplitRing.UsedElementSize * (uint)Layout.Size), sizeof(ushort));
        }

        if (_inOrder)
        {
            _popOrder![_popSequence & _mask] = chain.Slot;
            _popSequence = unchecked((ushort)(_popSequence + 1));
        }

        return PopStatus.Popped;
    }

    /// <summary>The general case: a chain of several descriptors, or an indirect table. <paramref name="chain"/> is default on a fault.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private VirtqueueFault PopChain(ushort head, ulong address, uint length, ushort flags, ushort link,
        bool haveSecond, ulong address1, uint length1, ushort flags1, ushort link1, out DescriptorChain chain)
    {
        if (!_arena.TryBegin(out PendingChain pending))
        {
            chain = default;
            return VirtqueueFault.TooManyInFlight;
        }

        VirtqueueFault fault = WalkChain(head, address, length, flags, link, haveSecond, address1, length1, flags1, link1, ref pending, out ushort descriptorCount);
        if (fault != VirtqueueFault.None)
        {
            _arena.Abort(pending.Slot);
            chain = default;
            return fault;
        }

        chain = _arena.Complete(pending, head, descriptorCount);
        return VirtqueueFault.None;
    }

    /// <summary>
    /// Walks a chain in the descriptor table from <paramref name="head"/>, switching to an indirect
    /// table if its last descriptor points to one. Each descriptor is copied out once: the head's
    /// copy is passed in (<paramref name="address"/>, <paramref name="length"/>, <paramref name="flags"/>, <paramref name="next"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private VirtqueueFault WalkChain(ushort head, ulong address, uint length, ushort flags, ushort next,
        bool haveSecond, ulong address1, uint length1, ushort flags1, ushort next1, ref PendingChain pending, out ushort descriptorCount)
    {
        uint limit = _mask + 1;
        uint index = head;
        uint count = 0;
        while (true)
        {
            if (count != 0)
            {
                // TTL: a chain in one table of Size descriptors that visits more than Size of them
                // must have visited one twice (§2.7.5.3.1 forbids chains longer than the queue).
                if (count == limit)
                {
                    descriptorCount = 0;
                    return VirtqueueFault.DescriptorLoop;
                }

                if (count == 1 && haveSecond)
                {
                    // Already copied out by the caller (at this same index): not read again.
                    address = address1;
                    length = length1;
                    flags = flags1;
                    next = next1;
                }
                else
                {
                    SplitRing.ReadDescriptor(_descriptors + (index * Descriptor.Size), out address, out length, out flags, out next);
                }
            }

            count++;
            descriptorCount = (ushort)count;

            if ((flags & IndirectFlag) != 0)
            {
                // §2.7.5.3.1: only when negotiated, and never together with NEXT. The device
                // ignores the write flag of the descriptor that refers to the table.
                if (!_indirect || (flags & NextFlag) != 0)
                {
                    return VirtqueueFault.IndirectNotAllowed;
                }

                // The table walk gets a copy: taking the address of `pending` itself would keep
                // it in memory (not registers) on the common direct path as well.
                PendingChain table = pending;
                VirtqueueFault tableFault = WalkIndirect(address, length, ref table);
                pending = table;
                return tableFault;
            }

            VirtqueueFault fault = _arena.Append(ref pending, address, length, (flags & WritableFlag) != 0);
            if (fault != VirtqueueFault.None)
            {
                return fault;
            }

            if ((flags & NextFlag) == 0)
            {
                return VirtqueueFault.None;
            }

            index = next;
            if (index >= limit)
            {
                return VirtqueueFault.DescriptorIndexOutOfRange;
            }
        }
    }

    /// <summary>Walks an indirect table (§2.7.5.3): its own index space, starting at entry 0, no nesting.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private VirtqueueFault WalkIndirect(ulong tableAddress, uint tableLength, ref PendingChain pending)
    {
        if (tableLength == 0 || (tableLength % Descriptor.Size) != 0)
        {
            return VirtqueueFault.IndirectTableLength;
        }

        // The whole chain, direct descriptors before the table included, may not be longer than
        // the queue (§2.7.5.3.1); checking the table alone would allow almost twice that.
        uint entries = tableLength / Descriptor.Size;
        if (entries > _mask + 1 - (uint)pending.SegmentCount)
        {
            return VirtqueueFault.ChainTooLong;
        }

        GuestMemoryStatus status = _memory.TryTranslate(tableAddress, tableLength, out byte* table);
        if (status != GuestMemoryStatus.Ok)
        {
            return status == GuestMemoryStatus.AddressOverflow ? VirtqueueFault.AddressOverflow : VirtqueueFault.BufferOutOfRange;
        }

        uint index = 0;
        uint count = 0;
        while (true)
        {
            if (count == entries)
            {
                return VirtqueueFault.DescriptorLoop;   // more visits than entries: a revisit
            }

            SplitRing.ReadDescriptor(table + (index * Descriptor.Size), out ulong address, out uint length, out ushort flags, out ushort next);
            count++;

            if ((flags & IndirectFlag) != 0)
            {
                return VirtqueueFault.NestedIndirect;   // §2.7.5.3.1: MUST NOT set INDIRECT inside a table
            }

            VirtqueueFault fault = _arena.Append(ref pending, address, length, (flags & WritableFlag) != 0);
            if (fault != VirtqueueFault.None)
            {
                return fault;
            }

            if ((flags & NextFlag) == 0)
            {
                return VirtqueueFault.None;
            }

            index = next;
            if (index >= entries)
            {
                return VirtqueueFault.DescriptorIndexOutOfRange;
            }
        }
    }
}
