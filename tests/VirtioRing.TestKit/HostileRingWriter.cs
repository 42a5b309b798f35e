using System;
using System.Buffers.Binary;
using VirtioRing.Memory;
using VirtioRing.Queues;

namespace VirtioRing.TestKit;

/// <summary>
/// Writes raw ring contents into guest memory, playing a driver that may break every rule: split
/// descriptors, available ring entries and index, packed descriptors with any flag and wrap bits,
/// event suppression fields, indirect tables. Nothing is validated; addresses outside guest
/// memory throw <see cref="GuestMemoryException"/> (the writer is the test's, not the device's).
/// </summary>
public sealed class HostileRingWriter
{
    /// <summary>Creates a writer over the rings at <paramref name="areas"/>.</summary>
    /// <param name="memory">The guest memory.</param>
    /// <param name="areas">The ring areas.</param>
    public HostileRingWriter(GuestMemory memory, RingAreas areas)
    {
        ArgumentNullException.ThrowIfNull(memory);
        Memory = memory;
        Areas = areas;
    }

    /// <summary>Gets the guest memory.</summary>
    public GuestMemory Memory { get; }

    /// <summary>Gets the ring areas.</summary>
    public RingAreas Areas { get; }

    /// <summary>Writes raw bytes.</summary>
    /// <param name="address">Where.</param>
    /// <param name="bytes">What.</param>
    public void WriteBytes(GuestAddress address, ReadOnlySpan<byte> bytes) => Memory.Write(address, bytes);

    /// <summary>Fills a range with one byte value.</summary>
    /// <param name="address">Where.</param>
    /// <param name="length">How many bytes.</param>
    /// <param name="value">The byte.</param>
    public void Fill(GuestAddress address, ulong length, byte value) => Memory.GetSpan(address, length).Fill(value);

    /// <summary>Writes a little-endian 16-bit value.</summary>
    /// <param name="address">Where.</param>
    /// <param name="value">What.</param>
    public void WriteUInt16(GuestAddress address, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Memory.GetSpan(address, 2), value);

    /// <summary>Writes a little-endian 32-bit value.</summary>
    /// <param name="address">Where.</param>
    /// <param name="value">What.</param>
    public void WriteUInt32(GuestAddress address, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Memory.GetSpan(address, 4), value);

    /// <summary>Writes a little-endian 64-bit value.</summary>
    /// <param name="address">Where.</param>
    /// <param name="value">What.</param>
    public void WriteUInt64(GuestAddress address, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Memory.GetSpan(address, 8), value);

    // ---------------------------------------------------------------- split

    /// <summary>Split: writes descriptor <paramref name="index"/> of the table (any index whose bytes are in memory).</summary>
    /// <param name="index">The table index.</param>
    /// <param name="descriptor">The descriptor.</param>
    public void WriteSplitDescriptor(int index, Descriptor descriptor) => descriptor.WriteSplit(Memory.GetSpan(Areas.Descriptor(index), Descriptor.Size));

    /// <summary>Split: writes descriptor <paramref name="index"/> of the table.</summary>
    /// <param name="index">The table index.</param>
    /// <param name="address">addr.</param>
    /// <param name="length">len.</param>
    /// <param name="flags">flags (any bits).</param>
    /// <param name="next">next.</param>
    public void WriteSplitDescriptor(int index, ulong address, uint length, DescriptorFlags flags, ushort next = 0) =>
        WriteSplitDescriptor(index, new Descriptor(new GuestAddress(address), length, flags, next));

    /// <summary>Split: writes <c>avail.flags</c> (bit 0: <c>VRING_AVAIL_F_NO_INTERRUPT</c>).</summary>
    /// <param name="flags">The raw value.</param>
    public void WriteAvailFlags(ushort flags) => WriteUInt16(Areas.AvailFlags, flags);

    /// <summary>Split: writes <c>avail.idx</c>.</summary>
    /// <param name="idx">The raw value.</param>
    public void WriteAvailIdx(ushort idx) => WriteUInt16(Areas.AvailIdx, idx);

    /// <summary>Split: writes <c>avail.ring[slot]</c>.</summary>
    /// <param name="slot">The ring slot, in [0, Size).</param>
    /// <param name="head">The head index (any value).</param>
    public void WriteAvailEntry(int slot, ushort head) => WriteUInt16(Areas.AvailEntry(slot), head);

    /// <summary>Split: writes <c>used_event</c>.</summary>
    /// <param name="value">The raw value.</param>
    public void WriteUsedEvent(ushort value) => WriteUInt16(Areas.UsedEvent, value);

    /// <summary>
    /// Split: writes a chain into consecutive table entries from <paramref name="firstIndex"/>,
    /// linked with <c>NEXT</c> (direction from each segment), and returns its head index.
    /// </summary>
    /// <param name="firstIndex">The first table index; the chain takes the following ones.</param>
    /// <param name="segments">The buffers.</param>
    /// <returns>The head index.</returns>
    public ushort WriteSplitChain(int firstIndex, ReadOnlySpan<BufferSegment> segments)
    {
        for (int i = 0; i < segments.Length; i++)
        {
            BufferSegment s = segments[i];
            DescriptorFlags flags = (s.IsDeviceWritable ? DescriptorFlags.DeviceWritable : DescriptorFlags.None)
                | (i + 1 < segments.Length ? DescriptorFlags.Next : DescriptorFlags.None);
            WriteSplitDescriptor(firstIndex + i, new Descriptor(s.Address, s.Length, flags, (ushort)(firstIndex + i + 1)));
        }

        return (ushort)firstIndex;
    }

    /// <summary>
    /// Split: appends heads to the available ring after the current <c>avail.idx</c> (read from
    /// memory) and then moves the index past them, as a driver publishes.
    /// </summary>
    /// <param name="heads">The head indices.</param>
    /// <returns>The new <c>avail.idx</c>.</returns>
    public ushort PublishSplit(params ushort[] heads)
    {
        ArgumentNullException.ThrowIfNull(heads);
        ushort idx = BinaryPrimitives.ReadUInt16LittleEndian(Memory.GetSpan(Areas.AvailIdx, 2));
        foreach (ushort head in heads)
        {
            WriteAvailEntry(idx % Areas.Size, head);
            idx++;
        }

        WriteAvailIdx(idx);
        return idx;
    }

    // ---------------------------------------------------------------- packed

    /// <summary>Packed: the <c>AVAIL</c>/<c>USED</c> bits that mark a descriptor available in the lap with <paramref name="wrapCounter"/>.</summary>
    /// <param name="wrapCounter">The driver's ring wrap counter.</param>
    /// <returns>AVAIL = wrap, USED = !wrap.</returns>
    public static DescriptorFlags PackedAvailableBits(bool wrapCounter) => wrapCounter ? DescriptorFlags.Available : DescriptorFlags.Used;

    /// <summary>Packed: the <c>AVAIL</c>/<c>USED</c> bits that mark a descriptor used in the lap with <paramref name="wrapCounter"/>.</summary>
    /// <param name="wrapCounter">The device's ring wrap counter.</param>
    /// <returns>AVAIL = USED = wrap.</returns>
    public static DescriptorFlags PackedUsedBits(bool wrapCounter) => wrapCounter ? DescriptorFlags.Available | DescriptorFlags.Used : DescriptorFlags.None;

    /// <summary>Packed: writes ring slot <paramref name="slot"/> (any flags, any id).</summary>
    /// <param name="slot">The ring slot.</param>
    /// <param name="descriptor">The descriptor.</param>
    public void WritePackedDescriptor(int slot, Descriptor descriptor) => descriptor.WritePacked(Memory.GetSpan(Areas.Descriptor(slot), Descriptor.Size));

    /// <summary>Packed: writes ring slot <paramref name="slot"/>.</summary>
    /// <param name="slot">The ring slot.</param>
    /// <param name="address">addr.</param>
    /// <param name="length">len.</param>
    /// <param name="flags">flags (any bits, including AVAIL/USED).</param>
    /// <param name="id">Buffer id.</param>
    public void WritePackedDescriptor(int slot, ulong address, uint length, DescriptorFlags flags, ushort id) =>
        WritePackedDescriptor(slot, new Descriptor(new GuestAddress(address), length, flags, id));

    /// <summary>
    /// Packed: makes a chain available from ring slot <paramref name="slot"/> in the lap with
    /// <paramref name="wrapCounter"/>, as a driver does: the following slots first, the head's flags
    /// last; <c>NEXT</c> on all but the last; the wrap counter flips where the chain wraps the ring.
    /// </summary>
    /// <param name="slot">The first slot.</param>
    /// <param name="wrapCounter">The driver wrap counter at <paramref name="slot"/>.</param>
    /// <param name="segments">The buffers.</param>
    /// <param name="id">The buffer id (written in every descriptor).</param>
    /// <returns>The slot after the chain and the wrap counter there.</returns>
    public (int NextSlot, bool WrapCounter) MakePackedAvailable(int slot, bool wrapCounter, ReadOnlySpan<BufferSegment> segments, ushort id)
    {
        int s = slot;
        bool w = wrapCounter;
        Descriptor head = default;
        for (int i = 0; i < segments.Length; i++)
        {
            BufferSegment seg = segments[i];
            DescriptorFlags flags = (seg.IsDeviceWritable ? DescriptorFlags.DeviceWritable : DescriptorFlags.None)
                | (i + 1 < segments.Length ? DescriptorFlags.Next : DescriptorFlags.None)
                | PackedAvailableBits(w);
            var d = new Descriptor(seg.Address, seg.Length, flags, id);
            if (i == 0)
            {
                head = d;
            }
            else
            {
                WritePackedDescriptor(s, d);
            }

            if (++s == Areas.Size)
            {
                s = 0;
                w = !w;
            }
        }

        WritePackedDescriptor(slot, head);
        return (s, w);
    }

    /// <summary>Packed: writes the driver event suppression structure (read by the device).</summary>
    /// <param name="offWrap">The raw <c>desc</c> field.</param>
    /// <param name="flags">The raw <c>flags</c> field.</param>
    public void WriteDriverEventSuppression(ushort offWrap, ushort flags)
    {
        WriteUInt16(Areas.DriverArea, offWrap);
        WriteUInt16(Areas.DriverArea.Add(2), flags);
    }

    // ---------------------------------------------------------------- indirect

    /// <summary>Writes an indirect table at <paramref name="address"/>, in the layout's descriptor format.</summary>
    /// <param name="address">Where the table goes.</param>
    /// <param name="table">The descriptors.</param>
    public void WriteIndirectTable(GuestAddress address, ReadOnlySpan<Descriptor> table)
    {
        Span<byte> bytes = Memory.GetSpan(address, (ulong)table.Length * Descriptor.Size);
        for (int i = 0; i < table.Length; i++)
        {
            Span<byte> d = bytes.Slice(i * Descriptor.Size, Descriptor.Size);
            if (Areas.Kind == QueueKind.Split)
            {
                table[i].WriteSplit(d);
            }
            else
            {
                table[i].WritePacked(d);
            }
        }
    }
}
