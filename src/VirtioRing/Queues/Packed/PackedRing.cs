using System;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace VirtioRing.Queues.Packed;

/// <summary>
/// Field access to packed descriptors and event suppression structures through host pointers
/// obtained once from the region table. Offsets are those of <c>struct pvirtq_desc</c> (addr le64,
/// len le32, id le16, flags le16) and <c>struct pvirtq_event_suppress</c> (off_wrap le16, flags le16),
/// virtio 1.2 §2.8.13–§2.8.14. All ordering goes through <see cref="RingOrdering"/>.
/// </summary>
internal static unsafe class PackedRing
{
    public const int LengthOffset = 8;
    public const int IdOffset = 12;
    public const int FlagsOffset = 14;

    public const int EventOffWrapOffset = 0;
    public const int EventFlagsOffset = 2;

    /// <summary><c>RING_EVENT_FLAGS_ENABLE</c>: notify on every change.</summary>
    public const ushort EventFlagsEnable = 0;

    /// <summary><c>RING_EVENT_FLAGS_DISABLE</c>: do not notify.</summary>
    public const ushort EventFlagsDisable = 1;

    /// <summary><c>RING_EVENT_FLAGS_DESC</c>: notify when the descriptor at off_wrap is made available/used (EVENT_IDX only).</summary>
    public const ushort EventFlagsDesc = 2;

    /// <summary>The two bits of the flags field that carry the mode; the rest are reserved.</summary>
    public const ushort EventFlagsMask = 3;

    /// <summary>Bit 15 of off_wrap: the wrap counter of the event descriptor.</summary>
    public const ushort EventWrapBit = 0x8000;

    public const ushort AvailBit = (ushort)DescriptorFlags.Available;
    public const ushort UsedBit = (ushort)DescriptorFlags.Used;
    public const ushort BothBits = AvailBit | UsedBit;

    /// <summary>The AVAIL/USED bits a driver writes to make a descriptor available in the lap of <paramref name="wrap"/> (§2.8.1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort AvailableBits(bool wrap) => wrap ? AvailBit : UsedBit;

    /// <summary>The AVAIL/USED bits a device writes to mark a descriptor used in the lap of <paramref name="wrap"/> (§2.8.1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort UsedBits(bool wrap) => wrap ? BothBits : (ushort)0;

    /// <summary>Available: AVAIL matches the wrap counter and USED does not.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsAvailable(ushort flags, bool wrap) => (flags & BothBits) == AvailableBits(wrap);

    /// <summary>Used: AVAIL and USED both match the wrap counter.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsUsed(ushort flags, bool wrap) => (flags & BothBits) == UsedBits(wrap);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref ushort Field16(byte* p, int offset) => ref Unsafe.AsRef<ushort>(p + offset);

    /// <summary>Reads a descriptor's flags; the reads of its other fields that follow cannot move before it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort LoadFlagsAcquire(byte* descriptor) => RingOrdering.LoadAcquire(ref Field16(descriptor, FlagsOffset));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ReadAddress(byte* descriptor)
    {
        ulong v = Unsafe.ReadUnaligned<ulong>(descriptor);
        return BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ReadLength(byte* descriptor)
    {
        uint v = Unsafe.ReadUnaligned<uint>(descriptor + LengthOffset);
        return BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ReadId(byte* descriptor) => RingOrdering.LoadRelaxed(ref Field16(descriptor, IdOffset));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ReadFlagsRelaxed(byte* descriptor) => RingOrdering.LoadRelaxed(ref Field16(descriptor, FlagsOffset));

    /// <summary>Writes addr, len and id; the flags are written separately, with the ordering the caller needs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteBody(byte* descriptor, ulong address, uint length, ushort id)
    {
        Unsafe.WriteUnaligned(descriptor, BitConverter.IsLittleEndian ? address : BinaryPrimitives.ReverseEndianness(address));
        WriteLengthAndId(descriptor, length, id);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteLengthAndId(byte* descriptor, uint length, ushort id)
    {
        Unsafe.WriteUnaligned(descriptor + LengthOffset, BitConverter.IsLittleEndian ? length : BinaryPrimitives.ReverseEndianness(length));
        RingOrdering.StoreRelaxed(ref Field16(descriptor, IdOffset), id);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFlagsRelaxed(byte* descriptor, ushort flags) => RingOrdering.StoreRelaxed(ref Field16(descriptor, FlagsOffset), flags);

    /// <summary>Writes a descriptor's flags after every earlier write: this is what exposes it to the other side.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFlagsRelease(byte* descriptor, ushort flags) => RingOrdering.StoreRelease(ref Field16(descriptor, FlagsOffset), flags);

    /// <summary>Advances a ring position by <paramref name="count"/> slots (at most the size), toggling the wrap counter when it passes the end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Advance(ref ushort position, ref bool wrap, int count, int size)
    {
        int next = position + count;
        if (next >= size)
        {
            next -= size;
            wrap = !wrap;
        }

        position = (ushort)next;
    }

    /// <summary>Encodes a ring position as an event suppression off_wrap value (offset in bits 0–14, wrap counter in bit 15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort OffWrap(ushort position, bool wrap) => (ushort)(position | (wrap ? EventWrapBit : 0));

    /// <summary>Writes an event suppression structure: off_wrap first, then the flags with release order, so a reader that sees the new flags sees the new off_wrap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteEvent(byte* area, ushort flags, ushort offWrap)
    {
        RingOrdering.StoreRelaxed(ref Field16(area, EventOffWrapOffset), offWrap);
        RingOrdering.StoreRelease(ref Field16(area, EventFlagsOffset), flags);
    }

    /// <summary>Writes only the flags of an event suppression structure (DISABLE needs no offset).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteEventFlags(byte* area, ushort flags) => RingOrdering.StoreRelaxed(ref Field16(area, EventFlagsOffset), flags);

    /// <summary>
    /// Decides a notification from the other side's event suppression structure, after the caller's
    /// full barrier. <paramref name="advanced"/> slots were made available/used since the last decision,
    /// ending just before (<paramref name="position"/>, <paramref name="wrap"/>).
    /// </summary>
    /// <remarks>
    /// DESC mode is honoured only with EVENT_IDX (§2.8.10: it is valid only then); without it, and for
    /// the reserved mode 3, the safe answer is to notify. The comparison follows vring_need_event
    /// on indices made linear the way Linux's packed ring does it: the event offset is moved one lap
    /// back when its wrap counter differs from the current one, and the old position is the new one
    /// minus the slots advanced, both modulo 2^16 (the queue size is at most 2^15, so the window
    /// [old, new) never aliases).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool NeedsNotification(byte* area, bool eventIndex, int advanced, ushort position, bool wrap, int size)
    {
        ushort flags = (ushort)(RingOrdering.LoadAcquire(ref Field16(area, EventFlagsOffset)) & EventFlagsMask);
        if (advanced == 0 || flags == EventFlagsDisable)
        {
            return false;
        }

        if (flags != EventFlagsDesc || !eventIndex)
        {
            return true;
        }

        if (advanced > size)
        {
            return true;   // more than a lap went by: every offset was crossed, with either wrap counter
        }

        ushort offWrap = RingOrdering.LoadRelaxed(ref Field16(area, EventOffWrapOffset));
        ushort eventIdx = (ushort)(offWrap & ~EventWrapBit);
        if (((offWrap & EventWrapBit) != 0) != wrap)
        {
            eventIdx = unchecked((ushort)(eventIdx - size));
        }

        return EventIndex.NeedsEvent(eventIdx, position, unchecked((ushort)(position - advanced)));
    }
}
