using System;
using System.Runtime.CompilerServices;

namespace VirtioRing.Queues.Split;

/// <content>Adding chains and publishing the available index.</content>
public sealed unsafe partial class SplitDriverQueue
{
    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The segments' lengths add up to 2^32 bytes or more.</exception>
    public bool TryAddChain(ReadOnlySpan<BufferSegment> segments, ulong token)
    {
        if (_fault != VirtqueueFault.None)
        {
            ThrowBroken();
        }

        int count = segments.Length;
        if (count == 1)
        {
            return TryAddOne(in segments[0], token);
        }

        if ((uint)(count - 1) >= (uint)Layout.Size)
        {
            ThrowHelper.ThrowArgument(nameof(segments), "A chain has at least one segment and at most the queue size.");
        }

        ulong total = 0;
        ulong writable = 0;
        bool seenWritable = false;
        for (int i = 0; i < segments.Length; i++)
        {
            ref readonly BufferSegment s = ref segments[i];
            total += s.Length;
            if (s.IsDeviceWritable)
            {
                seenWritable = true;
                writable += s.Length;
            }
            else if (seenWritable)
            {
                ThrowHelper.ThrowArgument(nameof(segments), "Device-readable segments must come before device-writable ones (§2.7.4.2).");
            }
        }

        if (total > uint.MaxValue)
        {
            ThrowHelper.ThrowArgument(nameof(segments), "A chain's buffers must add up to less than 2^32 bytes.");
        }

        bool indirect = count > 1 && count <= _maxIndirect;
        int needed = indirect ? 1 : count;
        if (_freeCount < needed)
        {
            return false;
        }

        ushort head = _freeHead;
        ushort last = indirect ? WriteIndirect(head, segments) : WriteDirect(head, segments);
        _freeHead = _next[last];
        _freeCount -= needed;
        Record(head, last, needed, token, (uint)writable);
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
        if (_freeCount == 0)
        {
            return false;
        }

        ushort head = _freeHead;
        SplitRing.WriteDescriptor(_descriptors + (head * Descriptor.Size), segment.Address.Value, segment.Length, (ushort)Flags(segment), 0);
        _freeHead = _next[head];
        _freeCount--;
        Record(head, head, 1, token, segment.IsDeviceWritable ? segment.Length : 0);
        return true;
    }

    /// <summary>Records an added chain (its bookkeeping and its avail ring entry), not yet published.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Record(ushort head, ushort last, int needed, ulong token, uint writable)
    {
        ushort position = _nextAvail;
        ref HeadState state = ref _heads[head];
        state.Token = token;
        state.WritableLength = writable;
        state.Last = last;
        state.Descriptors = (ushort)needed;
        state.AvailPosition = position;
        state.AddEpoch = _publishEpoch;
        _outstanding++;

        uint slot = position & _mask;
        SplitRing.WriteAvailEntry(_avail, slot, head);
        if (_availCopy is not null)
        {
            _availCopy[slot] = head;
        }

        _nextAvail = unchecked((ushort)(position + 1));
    }

    /// <inheritdoc/>
    /// <remarks>One release store of avail.idx; a broken queue publishes nothing and returns 0.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PublishAvailable()
    {
        ushort next = _nextAvail;
        int count = unchecked((ushort)(next - _publishedAvail));
        if (count == 0 || _fault != VirtqueueFault.None)
        {
            return 0;
        }

        // Write barrier before updating avail.idx (§2.7.13.3): descriptors and ring entries are visible first.
        RingOrdering.StoreRelease(ref SplitRing.Field(_avail, SplitRing.IndexOffset), next);
        _publishedAvail = next;
        _publishEpoch++;   // every chain added so far is now published
        return count;
    }

    /// <summary>Writes a direct chain along the free list from <paramref name="head"/>; returns its last descriptor.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ushort WriteDirect(ushort head, ReadOnlySpan<BufferSegment> segments)
    {
        ushort index = head;
        int lastSegment = segments.Length - 1;
        for (int i = 0; i < lastSegment; i++)
        {
            ref readonly BufferSegment s = ref segments[i];
            ushort next = _next[index];
            SplitRing.WriteDescriptor(_descriptors + (index * Descriptor.Size), s.Address.Value, s.Length, (ushort)(Flags(s) | DescriptorFlags.Next), next);
            index = next;
        }

        ref readonly BufferSegment tail = ref segments[lastSegment];
        SplitRing.WriteDescriptor(_descriptors + (index * Descriptor.Size), tail.Address.Value, tail.Length, (ushort)Flags(tail), 0);
        return index;
    }

    /// <summary>Writes the chain into the head's indirect table slot and one ring descriptor pointing to it.</summary>
    private ushort WriteIndirect(ushort head, ReadOnlySpan<BufferSegment> segments)
    {
        ulong offset = (ulong)head * (ulong)_maxIndirect * Descriptor.Size;
        byte* table = _indirectTables + offset;
        int lastSegment = segments.Length - 1;
        for (int i = 0; i <= lastSegment; i++)
        {
            ref readonly BufferSegment s = ref segments[i];
            DescriptorFlags flags = Flags(s);
            ushort next = 0;
            if (i < lastSegment)
            {
                flags |= DescriptorFlags.Next;
                next = (ushort)(i + 1);
            }

            SplitRing.WriteDescriptor(table + (i * Descriptor.Size), s.Address.Value, s.Length, (ushort)flags, next);
        }

        SplitRing.WriteDescriptor(
            _descriptors + (head * Descriptor.Size),
            _indirectBase + offset,
            (uint)segments.Length * Descriptor.Size,
            (ushort)DescriptorFlags.Indirect,
            0);
        return head;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowBroken() => ThrowHelper.ThrowInvalidOperation("The queue is broken: " + _fault + ".");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DescriptorFlags Flags(in BufferSegment s) =>
        s.IsDeviceWritable ? DescriptorFlags.DeviceWritable : DescriptorFlags.None;
}
