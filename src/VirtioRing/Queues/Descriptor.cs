using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtioRing.Memory;

namespace VirtioRing.Queues;

/// <summary>
/// A 16-byte descriptor, copied out of guest memory once; every decision is made on the copy,
/// never on guest memory again (no double fetch). Split and packed descriptors share the size
/// but not the order of the last two fields (virtio 1.2 §2.7.5, §2.8.13).
/// </summary>
[DebuggerDisplay("{Address} len={Length} flags={Flags} next/id={NextOrId}")]
[StructLayout(LayoutKind.Auto)]
public readonly struct Descriptor
{
    /// <summary>The size of a descriptor in the table or ring, in bytes.</summary>
    public const int Size = 16;

    /// <summary>Creates a descriptor value.</summary>
    /// <param name="address">The buffer's guest-physical address.</param>
    /// <param name="length">The buffer's length in bytes.</param>
    /// <param name="flags">The flags.</param>
    /// <param name="nextOrId">Split: the next descriptor's index; packed: the buffer id.</param>
    public Descriptor(GuestAddress address, uint length, DescriptorFlags flags, ushort nextOrId)
    {
        Address = address;
        Length = length;
        Flags = flags;
        NextOrId = nextOrId;
    }

    /// <summary>Gets the buffer's guest-physical address.</summary>
    public GuestAddress Address { get; }

    /// <summary>Gets the buffer's length in bytes.</summary>
    public uint Length { get; }

    /// <summary>Gets the flags.</summary>
    public DescriptorFlags Flags { get; }

    /// <summary>Gets the split layout's <c>next</c> field, or the packed layout's buffer id.</summary>
    public ushort NextOrId { get; }

    /// <summary>Reads a split descriptor: addr (le64), len (le32), flags (le16), next (le16).</summary>
    /// <param name="source">Exactly 16 bytes, or more (the rest is ignored).</param>
    /// <returns>The descriptor.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Descriptor ReadSplit(ReadOnlySpan<byte> source) => new(
        new GuestAddress(BinaryPrimitives.ReadUInt64LittleEndian(source)),
        BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(8)),
        (DescriptorFlags)BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(12)),
        BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(14)));

    /// <summary>Writes a split descriptor: addr (le64), len (le32), flags (le16), next (le16).</summary>
    /// <param name="destination">At least 16 bytes.</param>
    public void WriteSplit(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, Address.Value);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(8), Length);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(12), (ushort)Flags);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(14), NextOrId);
    }

    /// <summary>Reads a packed descriptor: addr (le64), len (le32), id (le16), flags (le16).</summary>
    /// <param name="source">Exactly 16 bytes, or more (the rest is ignored).</param>
    /// <returns>The descriptor.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Descriptor ReadPacked(ReadOnlySpan<byte> source) => new(
        new GuestAddress(BinaryPrimitives.ReadUInt64LittleEndian(source)),
        BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(8)),
        (DescriptorFlags)BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(14)),
        BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(12)));

    /// <summary>Writes a packed descriptor: addr (le64), len (le32), id (le16), flags (le16).</summary>
    /// <param name="destination">At least 16 bytes.</param>
    public void WritePacked(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, Address.Value);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(8), Length);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(12), NextOrId);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(14), (ushort)Flags);
    }
}
