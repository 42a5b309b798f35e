using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VirtioRing.Queues;

/// <summary>
/// A chain the device popped: its buffer id, and its segments (device-readable first, then
/// device-writable), already validated and translated. A chain may be held as long as the
/// caller likes and completed later, in any order (unless <c>IN_ORDER</c> was negotiated), with
/// the queue's <c>PushUsed</c>. It is a small value: copying it allocates nothing.
/// </summary>
/// <remarks>
/// The segments live in the queue's chain store, not in guest memory: the descriptors were read
/// once when the chain was popped, and nothing the driver writes afterwards changes them. After
/// the chain is pushed as used, this value is stale and its accessors throw.
/// </remarks>
[DebuggerDisplay("id={Id} segments={SegmentCount} readable={ReadableLength} writable={WritableLength}")]
[StructLayout(LayoutKind.Auto)]
public readonly struct DescriptorChain
{
    private readonly ChainArena? _arena;

    internal DescriptorChain(ChainArena arena, ushort slot, ushort generation, ushort id, ushort descriptorCount,
        ushort segmentCount, ushort readableCount, uint readableLength, uint writableLength)
    {
        _arena = arena;
        Slot = slot;
        Generation = generation;
        Id = id;
        DescriptorCount = descriptorCount;
        SegmentCount = segmentCount;
        ReadableCount = readableCount;
        ReadableLength = readableLength;
        WritableLength = writableLength;
    }

    /// <summary>Gets the buffer id the device reports back as used (split: the head descriptor index; packed: the buffer id).</summary>
    public ushort Id { get; }

    /// <summary>Gets the number of segments (direct buffers, after following an indirect table).</summary>
    public int SegmentCount { get; }

    /// <summary>Gets the number of device-readable segments; they come first, at indices [0, ReadableCount).</summary>
    public int ReadableCount { get; }

    /// <summary>Gets the number of device-writable segments, at indices [ReadableCount, SegmentCount).</summary>
    public int WritableCount => SegmentCount - ReadableCount;

    /// <summary>Gets the total length of the device-readable segments.</summary>
    public uint ReadableLength { get; }

    /// <summary>Gets the total length of the device-writable segments.</summary>
    public uint WritableLength { get; }

    /// <summary>Gets whether this value refers to a chain still held (popped and not yet pushed as used).</summary>
    public bool IsHeld => _arena is not null && _arena.IsCurrent(Slot, Generation);

    internal ushort Slot { get; }

    internal ushort Generation { get; }

    /// <summary>Ring descriptors the chain occupies in the ring itself (packed rings advance by it).</summary>
    internal ushort DescriptorCount { get; }

    internal ChainArena? Arena => _arena;

    /// <summary>Gets one segment.</summary>
    /// <param name="index">The segment index, in [0, <see cref="SegmentCount"/>).</param>
    /// <returns>The segment's guest address, length and direction.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is out of range.</exception>
    /// <exception cref="InvalidOperationException">The chain was already pushed as used.</exception>
    public BufferSegment GetSegment(int index)
    {
        ref readonly SegmentEntry e = ref Entry(index);
        return new BufferSegment(new Memory.GuestAddress(e.Address), e.Length, e.Writable);
    }

    /// <summary>Gets the host memory of one segment, without copying.</summary>
    /// <param name="index">The segment index, in [0, <see cref="SegmentCount"/>).</param>
    /// <returns>The segment's bytes in guest memory. The driver side may change them at any time.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is out of range.</exception>
    /// <exception cref="InvalidOperationException">The chain was already pushed as used.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe Span<byte> GetSpan(int index)
    {
        ref readonly SegmentEntry e = ref Entry(index);
        return new Span<byte>((void*)e.Host, (int)e.Length);
    }

    /// <summary>Copies bytes out of the device-readable segments (a gather), starting at a byte offset.</summary>
    /// <param name="offset">The byte offset into the readable part of the chain.</param>
    /// <param name="destination">Where to copy; filled as far as the readable bytes go.</param>
    /// <returns>The number of bytes copied.</returns>
    /// <exception cref="InvalidOperationException">The chain was already pushed as used.</exception>
    public int CopyFromReadable(uint offset, Span<byte> destination)
    {
        int copied = 0;
        for (int i = 0; i < ReadableCount && copied < destination.Length; i++)
        {
            Span<byte> s = GetSpan(i);
            if (offset >= (uint)s.Length)
            {
                offset -= (uint)s.Length;
                continue;
            }

            Span<byte> part = s.Slice((int)offset);
            offset = 0;
            int n = Math.Min(part.Length, destination.Length - copied);
            part.Slice(0, n).CopyTo(destination.Slice(copied));
            copied += n;
        }

        return copied;
    }

    /// <summary>Copies bytes into the device-writable segments (a scatter), starting at a byte offset.</summary>
    /// <param name="offset">The byte offset into the writable part of the chain.</param>
    /// <param name="source">The bytes to write; written as far as the writable space goes.</param>
    /// <returns>The number of bytes written.</returns>
    /// <exception cref="InvalidOperationException">The chain was already pushed as used.</exception>
    public int CopyToWritable(uint offset, ReadOnlySpan<byte> source)
    {
        int copied = 0;
        for (int i = ReadableCount; i < SegmentCount && copied < source.Length; i++)
        {
            Span<byte> s = GetSpan(i);
            if (offset >= (uint)s.Length)
            {
                offset -= (uint)s.Length;
                continue;
            }

            Span<byte> part = s.Slice((int)offset);
            offset = 0;
            int n = Math.Min(part.Length, source.Length - copied);
            source.Slice(copied, n).CopyTo(part);
            copied += n;
        }

        return copied;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref readonly SegmentEntry Entry(int index)
    {
        ChainArena? arena = _arena;
        if (arena is null || !arena.IsCurrent(Slot, Generation))
        {
            ThrowHelper.ThrowInvalidOperation("The chain is not held: it was never popped, or it was already pushed as used.");
        }

        if ((uint)index >= (uint)SegmentCount)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(index));
        }

        return ref arena.Segment(Slot, index);
    }
}
