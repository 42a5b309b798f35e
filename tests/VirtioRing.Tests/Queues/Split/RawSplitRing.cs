using System;
using System.Buffers.Binary;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Split;

namespace VirtioRing.Tests.Queues.Split;

/// <summary>Writes split ring structures byte by byte, as a hostile guest (or device) would.</summary>
internal sealed class RawSplitRing(GuestMemory memory, SplitQueueLayout layout)
{
    private ushort _availIndex;

    public GuestMemory Memory { get; } = memory;

    public SplitQueueLayout Layout { get; } = layout;

    public void WriteDescriptor(int index, ulong address, uint length, DescriptorFlags flags = DescriptorFlags.None, ushort next = 0) =>
        WriteDescriptorAt(new GuestAddress(Layout.DescriptorTable.Value + ((ulong)index * 16)), address, length, flags, next);

    public void WriteDescriptorAt(GuestAddress at, ulong address, uint length, DescriptorFlags flags = DescriptorFlags.None, ushort next = 0)
    {
        Span<byte> bytes = stackalloc byte[16];
        new Descriptor(new GuestAddress(address), length, flags, next).WriteSplit(bytes);
        Memory.Write(at, bytes);
    }

    /// <summary>Puts heads in the avail ring and moves avail.idx past them.</summary>
    public void MakeAvailable(params ushort[] heads)
    {
        foreach (ushort head in heads)
        {
            WriteU16(Layout.AvailableRing.Value + 4 + (2UL * (_availIndex & (uint)(Layout.Size - 1))), head);
            _availIndex++;
        }

        SetAvailIndex(_availIndex);
    }

    public void SetAvailIndex(ushort value)
    {
        _availIndex = value;
        WriteU16(Layout.AvailableRing.Value + 2, value);
    }

    public ushort AvailFlags
    {
        get => ReadU16(Layout.AvailableRing.Value);
        set => WriteU16(Layout.AvailableRing.Value, value);
    }

    public ushort UsedEvent
    {
        get => ReadU16(Layout.AvailableRing.Value + 4 + (2UL * (uint)Layout.Size));
        set => WriteU16(Layout.AvailableRing.Value + 4 + (2UL * (uint)Layout.Size), value);
    }

    public ushort UsedFlags
    {
        get => ReadU16(Layout.UsedRing.Value);
        set => WriteU16(Layout.UsedRing.Value, value);
    }

    public ushort UsedIndex
    {
        get => ReadU16(Layout.UsedRing.Value + 2);
        set => WriteU16(Layout.UsedRing.Value + 2, value);
    }

    public ushort AvailEvent
    {
        get => ReadU16(Layout.UsedRing.Value + 4 + (8UL * (uint)Layout.Size));
        set => WriteU16(Layout.UsedRing.Value + 4 + (8UL * (uint)Layout.Size), value);
    }

    public (uint Id, uint Length) ReadUsedElement(int slot)
    {
        Span<byte> b = stackalloc byte[8];
        Memory.Read(new GuestAddress(Layout.UsedRing.Value + 4 + (8UL * (uint)slot)), b);
        return (BinaryPrimitives.ReadUInt32LittleEndian(b), BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(4)));
    }

    public void WriteUsedElement(int slot, uint id, uint length)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(b, id);
        BinaryPrimitives.WriteUInt32LittleEndian(b.Slice(4), length);
        Memory.Write(new GuestAddress(Layout.UsedRing.Value + 4 + (8UL * (uint)slot)), b);
    }

    /// <summary>A copy of the whole used ring area (flags, idx, elements, avail_event).</summary>
    public byte[] UsedRingBytes() =>
        Memory.GetSpan(Layout.UsedRing, SplitQueueLayout.UsedRingBytes(Layout.Size)).ToArray();

    private void WriteU16(ulong address, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        Memory.Write(new GuestAddress(address), b);
    }

    private ushort ReadU16(ulong address)
    {
        Span<byte> b = stackalloc byte[2];
        Memory.Read(new GuestAddress(address), b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }
}
