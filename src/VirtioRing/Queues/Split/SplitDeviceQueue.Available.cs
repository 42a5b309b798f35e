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
        chain = default;
        if (_fault != VirtqueueFault.None)
        {
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
                return PopStatus.Empty;
            }

            // The driver cannot have more than Size chains available: a bigger jump would make the
            // device walk stale entries over and over (rust-vmm vm-virtio #196).
            if (available > (uint)Layout.Size)
            {
                return Fail(VirtqueueFault.AvailIndexJump);
            }

            _availIndex = index;
        }

        ushort head = SplitRing.ReadAvailEntry(_avail, next & _mask);   // read once
        if (head > _mask)
        {
            return Fail(VirtqueueFault.DescriptorIndexOutOfRange);
        }

        if (!_arena.TryBegin(out PendingChain pending))
        {
            return Fail(VirtqueueFault.TooManyInFlight);
        }

        VirtqueueFault fault = WalkChain(head, ref pending, out ushort descriptorCount);
        if (fault != VirtqueueFault.None)
        {
            _arena.Abort(pending);
            return Fail(fault);
        }

        next = unchecked((ushort)(next + 1));
        _nextAvail = next;
        if (_eventIndex && _notificationsEnabled)
        {
            // Keep asking for a kick at the next new chain while notifications are on (as QEMU does).
            RingOrdering.StoreRelaxed(ref SplitRing.AvailEvent(_used, Layout.Size), next);
        }

        if (_inOrder)
        {
            _popOrder![_popSequence & _mask] = pending.Slot;
            _popSequence = unchecked((ushort)(_popSequence + 1));
        }

        chain = _arena.Complete(pending, head, descriptorCount);
        return PopStatus.Popped;
    }

    /// <summary>
    /// Walks a chain in the descriptor table from <paramref name="head"/>, switching to an indirect
    /// table if its last descriptor points to one. Each descriptor is copied out once.
    /// </summary>
    private VirtqueueFault WalkChain(ushort head, ref PendingChain pending, out ushort descriptorCount)
    {
        uint limit = _mask + 1;
        uint index = head;
        uint count = 0;
        while (true)
        {
            // TTL: a chain in one table of Size descriptors that visits more than Size of them
            // must have visited one twice (§2.7.5.3.1 forbids chains longer than the queue).
            if (count == limit)
            {
                descriptorCount = 0;
                return VirtqueueFault.DescriptorLoop;
            }

            SplitRing.ReadDescriptor(_descriptors + (index * Descriptor.Size), out ulong address, out uint length, out ushort flags, out ushort next);
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

                return WalkIndirect(address, length, ref pending);
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
