using System;
using VirtioRing.Queues;

namespace VirtioRing.Net.Backends;

/// <summary>
/// One Ethernet frame on its way between a guest and a backend, without a copy: the virtio-net
/// header already parsed, and the frame bytes either as one span or as a byte range of a held
/// descriptor chain's device-readable segments (a guest's transmit chain: a gather list in guest
/// memory). Backends do vectored I/O over <see cref="GetSegments"/>; the peer-guest switch copies
/// it once into the receiver's buffers.
/// </summary>
/// <remarks>
/// A frame lives only as long as the call it is passed to: the chain goes back to the guest
/// afterwards. Keep nothing from it; copy what you need.
/// </remarks>
public readonly ref struct NetFrame
{
    private readonly ReadOnlySpan<byte> _bytes;
    private readonly DescriptorChain _chain;
    private readonly uint _offset;

    private NetFrame(VirtioNetHeader header, ReadOnlySpan<byte> bytes, DescriptorChain chain, uint offset, int length, bool isChain)
    {
        Header = header;
        _bytes = bytes;
        _chain = chain;
        _offset = offset;
        Length = length;
        IsChain = isChain;
    }

    /// <summary>Gets the frame's virtio-net header (offload requests: checksum, segmentation; hash).</summary>
    public VirtioNetHeader Header { get; }

    /// <summary>Gets the frame length in bytes, Ethernet header onwards, without the virtio-net header.</summary>
    public int Length { get; }

    /// <summary>Gets whether the bytes are a range of a descriptor chain (see <see cref="Chain"/>) rather than one span.</summary>
    public bool IsChain { get; }

    /// <summary>Gets the chain holding the bytes when <see cref="IsChain"/> is set (else the default value).</summary>
    public DescriptorChain Chain => _chain;

    /// <summary>Gets where the frame starts in the chain's readable bytes, when <see cref="IsChain"/> is set.</summary>
    public uint ChainOffset => _offset;

    /// <summary>Creates a frame over one span.</summary>
    /// <param name="header">The frame's header.</param>
    /// <param name="bytes">The frame, Ethernet header onwards.</param>
    /// <returns>The frame.</returns>
    public static NetFrame FromSpan(in VirtioNetHeader header, ReadOnlySpan<byte> bytes) =>
        new(header, bytes, default, 0, bytes.Length, isChain: false);

    /// <summary>Creates a frame over a range of a held chain's device-readable bytes.</summary>
    /// <param name="header">The frame's header (already read from the chain).</param>
    /// <param name="chain">A held chain.</param>
    /// <param name="offset">Where the frame starts in the readable bytes (typically the header size).</param>
    /// <param name="length">The frame length.</param>
    /// <returns>The frame.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the chain's readable bytes.</exception>
    public static NetFrame FromChain(in VirtioNetHeader header, in DescriptorChain chain, uint offset, int length)
    {
        if (length < 0 || (ulong)offset + (ulong)length > chain.ReadableLength)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(length), "The frame range is outside the chain's readable bytes.");
        }

        return new NetFrame(header, default, chain, offset, length, isChain: true);
    }

    /// <summary>Returns a copy of this frame with another header (the bytes are shared).</summary>
    /// <param name="header">The new header.</param>
    /// <returns>The frame.</returns>
    public NetFrame WithHeader(in VirtioNetHeader header) => new(header, _bytes, _chain, _offset, Length, IsChain);

    /// <summary>Enumerates the frame's bytes as contiguous pieces, in order, covering exactly <see cref="Length"/> bytes.</summary>
    /// <returns>The enumerator (a <c>foreach</c> over it allocates nothing).</returns>
    public SegmentEnumerator GetSegments() => new(this);

    /// <summary>Copies the frame's first bytes into <paramref name="destination"/>.</summary>
    /// <param name="destination">Where to copy; at most its length is copied.</param>
    /// <returns>The number of bytes copied: the smaller of <see cref="Length"/> and the destination length.</returns>
    public int CopyTo(Span<byte> destination)
    {
        int total = 0;
        foreach (ReadOnlySpan<byte> piece in GetSegments())
        {
            int n = Math.Min(piece.Length, destination.Length - total);
            piece.Slice(0, n).CopyTo(destination.Slice(total));
            total += n;
            if (total == destination.Length)
            {
                break;
            }
        }

        return total;
    }

    /// <summary>
    /// Gets the frame's first <paramref name="count"/> bytes as one span: straight from the first
    /// piece when it is long enough, otherwise gathered into <paramref name="scratch"/>.
    /// </summary>
    /// <param name="count">How many bytes are wanted (the Ethernet header: 14).</param>
    /// <param name="scratch">At least <paramref name="count"/> bytes to gather into when needed.</param>
    /// <returns>The bytes; shorter than <paramref name="count"/> only when the frame is.</returns>
    public ReadOnlySpan<byte> Peek(int count, Span<byte> scratch)
    {
        count = Math.Min(count, Length);
        if (IsChain && _chain.ReadableCount > 0)
        {
            // The common case (header and frame in one buffer): the peek lies in the first segment past the offset.
            ReadOnlySpan<byte> first = _chain.GetSpan(0);
            if ((ulong)_offset + (ulong)count <= (ulong)first.Length)
            {
                return first.Slice((int)_offset, count);
            }
        }

        SegmentEnumerator e = GetSegments();
        if (e.MoveNext() && e.Current.Length >= count)
        {
            return e.Current.Slice(0, count);
        }

        int n = CopyTo(scratch.Slice(0, Math.Min(count, scratch.Length)));
        return scratch.Slice(0, n);
    }

    /// <summary>Walks a frame's pieces.</summary>
    public ref struct SegmentEnumerator
    {
        private readonly NetFrame _frame;
        private int _index;
        private uint _skip;
        private int _left;
        private ReadOnlySpan<byte> _current;

        internal SegmentEnumerator(NetFrame frame)
        {
            _frame = frame;
            _index = -1;
            _skip = frame._offset;
            _left = frame.Length;
            _current = default;
        }

        /// <summary>Gets the current piece.</summary>
        public readonly ReadOnlySpan<byte> Current => _current;

        /// <summary>Returns this enumerator (for <c>foreach</c>).</summary>
        /// <returns>This enumerator.</returns>
        public readonly SegmentEnumerator GetEnumerator() => this;

        /// <summary>Moves to the next non-empty piece.</summary>
        /// <returns><see langword="false"/> when the frame is done.</returns>
        public bool MoveNext()
        {
            if (!_frame.IsChain)
            {
                if (_index >= 0 || _left == 0)
                {
                    return false;
                }

                _index = 0;
                _current = _frame._bytes;
                _left = 0;
                return true;
            }

            while (_left > 0 && ++_index < _frame._chain.ReadableCount)
            {
                ReadOnlySpan<byte> seg = _frame._chain.GetSpan(_index);
                if (_skip >= (uint)seg.Length)
                {
                    _skip -= (uint)seg.Length;
                    continue;
                }

                seg = seg.Slice((int)_skip);
                _skip = 0;
                int n = Math.Min(seg.Length, _left);
                if (n == 0)
                {
                    continue;
                }

                _current = seg.Slice(0, n);
                _left -= n;
                return true;
            }

            return false;
        }
    }
}
