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
        chain = default;
        if (_fault != VirtqueueFault.None)
        {
            return PopStatus.Broken;
        }

        ushort slot = _nextAvail;
        bool wrap = _availWrap;
        byte* d = _ring + (slot * Descriptor.Size);

        // Acquire: the descriptor's other fields, and the buffers, are read only after its flags (the driver stores them last, after a barrier).
        ushort flags = PackedRing.LoadFlagsAcquire(d);
        if (!PackedRing.IsAvailable(flags, wrap))
        {
            return PopStatus.Empty;
        }

        if (!_arena.TryBegin(out PendingChain pending))
        {
            return Fail(VirtqueueFault.TooManyInFlight);
        }

        int budget = _size - _slotsOutstanding;   // ring slots the driver may legitimately have exposed
        int count = 0;
        ushort id;
        VirtqueueFault fault;
        while (true)
        {
            // One copy: the flags were loaded above; the other fields are read once, here.
            ulong address = PackedRing.ReadAddress(d);
            uint length = PackedRing.ReadLength(d);
            id = PackedRing.ReadId(d);
            count++;
            if (count > budget)
            {
                return Abort(ref pending, VirtqueueFault.TooManyInFlight);
            }

            if ((flags & (ushort)DescriptorFlags.Indirect) != 0)
            {
                // §2.8.7: only with INDIRECT_DESC, and an indirect descriptor is a list on its own.
                if (!_indirect || count != 1 || (flags & (ushort)DescriptorFlags.Next) != 0)
                {
                    return Abort(ref pending, VirtqueueFault.IndirectNotAllowed);
                }

                fault = WalkIndirect(ref pending, address, length);
                if (fault != VirtqueueFault.None)
                {
                    return Abort(ref pending, fault);
                }

                break;
            }

            fault = _arena.Append(ref pending, address, length, (flags & (ushort)DescriptorFlags.DeviceWritable) != 0);
            if (fault != VirtqueueFault.None)
            {
                return Abort(ref pending, fault);
            }

            if ((flags & (ushort)DescriptorFlags.Next) == 0)
            {
                break;
            }

            if (count == _size)
            {
                // No list is longer than the queue size (§2.8.17). A ring full of NEXT is the packed ring's loop.
                return Abort(ref pending, VirtqueueFault.ChainTooLong);
            }

            PackedRing.Advance(ref slot, ref wrap, 1, _size);
            d = _ring + (slot * Descriptor.Size);
            flags = PackedRing.LoadFlagsAcquire(d);
            if (!PackedRing.IsAvailable(flags, wrap))
            {
                // The rest of the list is not exposed yet: take nothing, read it again later (no spin).
                _arena.Abort(in pending);
                return PopStatus.Empty;
            }
        }

        // §2.8.6: the buffer id is the one of the last descriptor of the list.
        if (id >= _size)
        {
            return Abort(ref pending, VirtqueueFault.DescriptorIndexOutOfRange);
        }

        if (_idHeld[id])
        {
            return Abort(ref pending, VirtqueueFault.TooManyInFlight);
        }

        _idHeld[id] = true;
        PackedRing.Advance(ref slot, ref wrap, 1, _size);
        _nextAvail = slot;
        _availWrap = wrap;
        _slotsOutstanding += count;
        chain = _arena.Complete(in pending, id, (ushort)count);
        if (_popOrder is not null)
        {
            int tail = _popOrderHead + _popOrderCount;
            _popOrder[tail >= _size ? tail - _size : tail] = pending.Slot;
            _popOrderCount++;
        }

        return PopStatus.Popped;
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

    [MethodImpl(MethodImplOptions.NoInlining)]
    private PopStatus Abort(ref PendingChain pending, VirtqueueFault fault)
    {
        _arena.Abort(in pending);
        return Fail(fault);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private PopStatus Fail(VirtqueueFault fault)
    {
        _fault = fault;
        return PopStatus.Broken;
    }
}
