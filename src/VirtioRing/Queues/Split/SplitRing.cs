using System;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace VirtioRing.Queues.Split;

/// <summary>
/// Byte layout of the split ring areas (virtio 1.2 §2.7.5, §2.7.6, §2.7.8) over host pointers
/// obtained by translating each area once. All fields are little-endian; the swaps fold away on
/// little-endian hosts. Shared fields that order anything go through <see cref="RingOrdering"/>.
/// </summary>
internal static unsafe class SplitRing
{
    /// <summary><c>VRING_AVAIL_F_NO_INTERRUPT</c>: the driver does not want used-buffer notifications (§2.7.7).</summary>
    public const ushort AvailNoInterrupt = 1;

    /// <summary><c>VRING_USED_F_NO_NOTIFY</c>: the device does not want available-buffer notifications (§2.7.10).</summary>
    public const ushort UsedNoNotify = 1;

    /// <summary>Offset of <c>flags</c> in both rings.</summary>
    public const int FlagsOffset = 0;

    /// <summary>Offset of <c>idx</c> in both rings.</summary>
    public const int IndexOffset = 2;

    /// <summary>Offset of <c>ring[0]</c> in both rings.</summary>
    public const int RingOffset = 4;

    /// <summary>Size of a used element: <c>le32 id, le32 len</c>.</summary>
    public const int UsedElementSize = 8;

    /// <summary>A 16-bit ring field as a reference for <see cref="RingOrdering"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref ushort Field(byte* area, int offset) => ref *(ushort*)(area + offset);

    /// <summary>The <c>used_event</c> field at the end of the available ring.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref ushort UsedEvent(byte* avail, int size) => ref *(ushort*)(avail + RingOffset + (2 * size));

    /// <summary>The <c>avail_event</c> field at the end of the used ring.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref ushort AvailEvent(byte* used, int size) => ref *(ushort*)(used + RingOffset + (UsedElementSize * size));

    /// <summary>Reads <c>avail.ring[slot]</c> (a chain head) with no ordering: the caller already did the acquire on <c>idx</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ReadAvailEntry(byte* avail, uint slot) => Le(*(ushort*)(avail + RingOffset + (2 * slot)));

    /// <summary>Writes <c>avail.ring[slot]</c>; published later by the release store of <c>idx</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteAvailEntry(byte* avail, uint slot, ushort head) => *(ushort*)(avail + RingOffset + (2 * slot)) = Le(head);

    /// <summary>Reads <c>used.ring[slot]</c> in one 8-byte load: id in the low half, len in the high half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ReadUsedElement(byte* used, uint slot) =>
        Le(Unsafe.ReadUnaligned<ulong>(used + RingOffset + (UsedElementSize * slot)));

    /// <summary>Writes <c>used.ring[slot]</c> = {id, len} in one 8-byte store; published later by the release store of <c>idx</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteUsedElement(byte* used, uint slot, uint id, uint length) =>
        Unsafe.WriteUnaligned(used + RingOffset + (UsedElementSize * slot), Le(((ulong)length << 32) | id));

    /// <summary>
    /// Copies one split descriptor out of guest memory in two 8-byte loads (addr; len|flags|next) so
    /// that every later decision uses the copy (no double fetch).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ReadDescriptor(byte* descriptor, out ulong address, out uint length, out ushort flags, out ushort next)
    {
        address = Le(Unsafe.ReadUnaligned<ulong>(descriptor));
        ulong rest = Le(Unsafe.ReadUnaligned<ulong>(descriptor + 8));
        length = (uint)rest;
        flags = (ushort)(rest >> 32);
        next = (ushort)(rest >> 48);
    }

    /// <summary>Writes one split descriptor: addr (le64), len (le32), flags (le16), next (le16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteDescriptor(byte* descriptor, ulong address, uint length, ushort flags, ushort next)
    {
        Unsafe.WriteUnaligned(descriptor, Le(address));
        Unsafe.WriteUnaligned(descriptor + 8, Le(length | ((ulong)flags << 32) | ((ulong)next << 48)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Le(ushort v) => BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Le(ulong v) => BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);
}
