using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtioRing.Net.Multiqueue;

namespace VirtioRing.Net;

/// <summary>
/// <c>struct virtio_net_hdr</c> (virtio 1.3 §5.1.6), the header before every frame on the transmit
/// and receive queues, decoded into a value. Field order on the wire: <c>flags</c> (u8),
/// <c>gso_type</c> (u8), <c>hdr_len</c>, <c>gso_size</c>, <c>csum_start</c>, <c>csum_offset</c>
/// (le16 each; 10 bytes so far), <c>num_buffers</c> (le16; 12 bytes), <c>hash_value</c> (le32),
/// <c>hash_report</c> (le16), <c>padding_reserved</c> (le16; 20 bytes). A shorter layout simply has
/// no later fields: they read as zero and are not written.
/// </summary>
[DebuggerDisplay("flags={Flags} gso={GsoType} hdr_len={HeaderLength} gso_size={GsoSize} csum={ChecksumStart}+{ChecksumOffset} num_buffers={NumBuffers}")]
[StructLayout(LayoutKind.Sequential)]
public partial struct VirtioNetHeader : IEquatable<VirtioNetHeader>
{
    // The fields in wire order: with sequential layout they sit at the wire offsets (0, 1, 2, 4, 6, 8, 10,
    // 12, 16, 18; 20 bytes), so on a little-endian host a little-endian header is read and written as
    // two or three plain loads and stores (see DecodeLittleEndian / EncodeLittleEndian).
    private NetHeaderFlags _flags;
    private NetGsoType _gsoType;
    private ushort _headerLength;
    private ushort _gsoSize;
    private ushort _checksumStart;
    private ushort _checksumOffset;
    private ushort _numBuffers;
    private uint _hashValue;
    private NetHashReport _hashReport;
    private ushort _paddingReserved;

    /// <summary>Gets or sets <c>flags</c>.</summary>
    public NetHeaderFlags Flags { readonly get => _flags; set => _flags = value; }

    /// <summary>Gets or sets <c>gso_type</c>.</summary>
    public NetGsoType GsoType { readonly get => _gsoType; set => _gsoType = value; }

    /// <summary>Gets or sets <c>hdr_len</c>: the length of the headers to replicate per segment (a hint unless <c>GUEST_HDRLEN</c>).</summary>
    public ushort HeaderLength { readonly get => _headerLength; set => _headerLength = value; }

    /// <summary>Gets or sets <c>gso_size</c>: the segment payload size (MSS) of a super-frame.</summary>
    public ushort GsoSize { readonly get => _gsoSize; set => _gsoSize = value; }

    /// <summary>Gets or sets <c>csum_start</c>: where checksumming starts (or, with <c>RSC_INFO</c>, the coalesced segment count).</summary>
    public ushort ChecksumStart { readonly get => _checksumStart; set => _checksumStart = value; }

    /// <summary>Gets or sets <c>csum_offset</c>: where after <c>csum_start</c> the checksum goes (or, with <c>RSC_INFO</c>, the duplicate ACK count).</summary>
    public ushort ChecksumOffset { readonly get => _checksumOffset; set => _checksumOffset = value; }

    /// <summary>Gets or sets <c>num_buffers</c>: how many receive buffers the frame spans (12- and 20-byte layouts; zero on transmit).</summary>
    public ushort NumBuffers { readonly get => _numBuffers; set => _numBuffers = value; }

    /// <summary>Gets or sets <c>hash_value</c> (20-byte layout).</summary>
    public uint HashValue { readonly get => _hashValue; set => _hashValue = value; }

    /// <summary>Gets or sets <c>hash_report</c> (20-byte layout).</summary>
    public NetHashReport HashReport { readonly get => _hashReport; set => _hashReport = value; }

    /// <summary>Gets or sets <c>padding_reserved</c> (20-byte layout; zero when written by a conforming side).</summary>
    public ushort PaddingReserved { readonly get => _paddingReserved; set => _paddingReserved = value; }

    /// <summary>
    /// Gets the header size for a negotiated set: 20 bytes with <c>HASH_REPORT</c>; 12 with
    /// <c>VERSION_1</c> or <c>MRG_RXBUF</c>; else the legacy 10 (§5.1.6, §5.1.6.1, §5.1.6.3.1).
    /// </summary>
    /// <param name="negotiated">The negotiated features.</param>
    /// <returns>10, 12 or 20.</returns>
    public static int SizeFor(NetFeatures negotiated) =>
        (negotiated & NetFeatures.HashReport) != 0 ? NetHeaderLayout.HashReportSize
        : (negotiated & (NetFeatures.Version1 | NetFeatures.MrgRxBuf)) != 0 ? NetHeaderLayout.BasicSize
        : NetHeaderLayout.LegacySize;

    /// <summary>Reads exactly <see cref="NetHeaderLayout.Size"/> bytes.</summary>
    /// <param name="source">The bytes, at least the layout's size.</param>
    /// <param name="layout">The layout.</param>
    /// <returns>The header; fields the layout lacks are zero.</returns>
    /// <exception cref="ArgumentException"><paramref name="source"/> is shorter than the header, or the layout is not one of the three sizes (or is big-endian with the 20-byte size).</exception>
    public static VirtioNetHeader Read(ReadOnlySpan<byte> source, NetHeaderLayout layout)
    {
        CheckLayout(layout);
        if (source.Length < layout.Size)
        {
            ThrowHelper.ThrowArgument(nameof(source), "The source is shorter than the header.");
        }

        return Decode(source, layout);
    }

    /// <summary>Reads exactly <see cref="NetHeaderLayout.Size"/> bytes, or reports that there are too few (guest input).</summary>
    /// <param name="source">The bytes.</param>
    /// <param name="layout">The layout.</param>
    /// <param name="header">The header, when the result is <see cref="NetHeaderError.None"/>; otherwise default.</param>
    /// <returns><see cref="NetHeaderError.None"/> or <see cref="NetHeaderError.TooShort"/>.</returns>
    /// <exception cref="ArgumentException">The layout is not one of the three sizes (caller misuse).</exception>
    public static NetHeaderError TryRead(ReadOnlySpan<byte> source, NetHeaderLayout layout, out VirtioNetHeader header)
    {
        CheckLayout(layout);
        if (source.Length < layout.Size)
        {
            header = default;
            return NetHeaderError.TooShort;
        }

        header = Decode(source, layout);
        return NetHeaderError.None;
    }

    /// <summary>Writes exactly <see cref="NetHeaderLayout.Size"/> bytes; fields the layout lacks are not written.</summary>
    /// <param name="destination">Where to write, at least the layout's size.</param>
    /// <param name="layout">The layout.</param>
    /// <returns>The number of bytes written (the layout's size).</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short, or the layout is invalid.</exception>
    public readonly int Write(Span<byte> destination, NetHeaderLayout layout)
    {
        CheckLayout(layout);
        if (destination.Length < layout.Size)
        {
            ThrowHelper.ThrowArgument(nameof(destination), "The destination is shorter than the header.");
        }

        Encode(destination, layout);
        return layout.Size;
    }

    /// <summary>Writes exactly <see cref="NetHeaderLayout.Size"/> bytes when they fit.</summary>
    /// <param name="destination">Where to write.</param>
    /// <param name="layout">The layout.</param>
    /// <returns><see langword="false"/> when <paramref name="destination"/> is too short (nothing written).</returns>
    /// <exception cref="ArgumentException">The layout is invalid.</exception>
    public readonly bool TryWrite(Span<byte> destination, NetHeaderLayout layout)
    {
        CheckLayout(layout);
        if (destination.Length < layout.Size)
        {
            return false;
        }

        Encode(destination, layout);
        return true;
    }

    /// <inheritdoc/>
    public readonly bool Equals(VirtioNetHeader other) =>
        Flags == other.Flags && GsoType == other.GsoType && HeaderLength == other.HeaderLength && GsoSize == other.GsoSize &&
        ChecksumStart == other.ChecksumStart && ChecksumOffset == other.ChecksumOffset && NumBuffers == other.NumBuffers &&
        HashValue == other.HashValue && HashReport == other.HashReport && PaddingReserved == other.PaddingReserved;

    /// <inheritdoc/>
    public override readonly bool Equals(object? obj) => obj is VirtioNetHeader other && Equals(other);

    /// <inheritdoc/>
    public override readonly int GetHashCode() =>
        ((int)Flags | ((int)GsoType << 8) | (HeaderLength << 16)) ^ (GsoSize | (ChecksumStart << 16)) ^
        (ChecksumOffset | (NumBuffers << 16)) ^ (int)HashValue ^ ((int)HashReport | (PaddingReserved << 16));

    /// <summary>Compares two headers field by field.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(VirtioNetHeader left, VirtioNetHeader right) => left.Equals(right);

    /// <summary>Compares two headers field by field.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(VirtioNetHeader left, VirtioNetHeader right) => !left.Equals(right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckLayout(NetHeaderLayout layout)
    {
        int size = layout.Size;
        if (size != NetHeaderLayout.LegacySize && size != NetHeaderLayout.BasicSize && (size != NetHeaderLayout.HashReportSize || layout.BigEndian))
        {
            ThrowHelper.ThrowArgument(nameof(layout), "The header layout must be 10 or 12 bytes (either byte order) or 20 bytes (little-endian).");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VirtioNetHeader Decode(ReadOnlySpan<byte> s, NetHeaderLayout layout)
    {
        Debug.Assert(s.Length >= layout.Size, "the caller checked the length");
        return BitConverter.IsLittleEndian && !layout.BigEndian
            ? DecodeLittleEndian(ref MemoryMarshal.GetReference(s), layout.Size)
            : DecodeFields(s, layout);
    }

    /// <summary>A little-endian header on a little-endian host: the wire bytes are the struct's bytes (the layout's first 10, 12 or 20), the rest zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VirtioNetHeader DecodeLittleEndian(ref byte source, int size)
    {
        // One read of the caller's bytes (two or three loads) into a local.
        var h = default(VirtioNetHeader);
        ref byte d = ref Unsafe.As<VirtioNetHeader, byte>(ref h);
        Unsafe.WriteUnaligned(ref d, Unsafe.ReadUnaligned<ulong>(ref source));
        if (size == NetHeaderLayout.BasicSize)
        {
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref d, 8), Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref source, 8)));
        }
        else if (size == NetHeaderLayout.LegacySize)
        {
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref d, 8), Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref source, 8)));
        }
        else
        {
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref d, 8), Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref source, 8)));
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref d, 16), Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref source, 16)));
        }

        return h;
    }

    private static VirtioNetHeader DecodeFields(ReadOnlySpan<byte> s, NetHeaderLayout layout)
    {
        // One read of the caller's bytes, field by field, into a local: the caller copies guest
        // memory once before calling (or accepts that a racing guest gets what it wrote).
        var h = default(VirtioNetHeader);
        h.Flags = (NetHeaderFlags)s[0];
        h.GsoType = (NetGsoType)s[1];
        if (layout.BigEndian)
        {
            h.HeaderLength = BinaryPrimitives.ReadUInt16BigEndian(s.Slice(2));
            h.GsoSize = BinaryPrimitives.ReadUInt16BigEndian(s.Slice(4));
            h.ChecksumStart = BinaryPrimitives.ReadUInt16BigEndian(s.Slice(6));
            h.ChecksumOffset = BinaryPrimitives.ReadUInt16BigEndian(s.Slice(8));
            if (layout.Size >= NetHeaderLayout.BasicSize)
            {
                h.NumBuffers = BinaryPrimitives.ReadUInt16BigEndian(s.Slice(10));
            }

            return h;
        }

        h.HeaderLength = BinaryPrimitives.ReadUInt16LittleEndian(s.Slice(2));
        h.GsoSize = BinaryPrimitives.ReadUInt16LittleEndian(s.Slice(4));
        h.ChecksumStart = BinaryPrimitives.ReadUInt16LittleEndian(s.Slice(6));
        h.ChecksumOffset = BinaryPrimitives.ReadUInt16LittleEndian(s.Slice(8));
        if (layout.Size >= NetHeaderLayout.BasicSize)
        {
            h.NumBuffers = BinaryPrimitives.ReadUInt16LittleEndian(s.Slice(10));
            if (layout.Size >= NetHeaderLayout.HashReportSize)
            {
                h.HashValue = BinaryPrimitives.ReadUInt32LittleEndian(s.Slice(12));
                h.HashReport = (NetHashReport)BinaryPrimitives.ReadUInt16LittleEndian(s.Slice(16));
                h.PaddingReserved = BinaryPrimitives.ReadUInt16LittleEndian(s.Slice(18));
            }
        }

        return h;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly void Encode(Span<byte> d, NetHeaderLayout layout)
    {
        Debug.Assert(d.Length >= layout.Size, "the caller checked the length");
        if (BitConverter.IsLittleEndian && !layout.BigEndian)
        {
            EncodeLittleEndian(ref MemoryMarshal.GetReference(d), layout.Size);
        }
        else
        {
            EncodeFields(d, layout);
        }
    }

    /// <summary>A little-endian header on a little-endian host: the struct's first 10, 12 or 20 bytes are the wire bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly void EncodeLittleEndian(ref byte destination, int size)
    {
        ref byte s = ref Unsafe.As<VirtioNetHeader, byte>(ref Unsafe.AsRef(in this));
        Unsafe.WriteUnaligned(ref destination, Unsafe.ReadUnaligned<ulong>(ref s));
        if (size == NetHeaderLayout.BasicSize)
        {
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, 8), Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref s, 8)));
        }
        else if (size == NetHeaderLayout.LegacySize)
        {
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, 8), Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref s, 8)));
        }
        else
        {
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, 8), Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref s, 8)));
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, 16), Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref s, 16)));
        }
    }

    private readonly void EncodeFields(Span<byte> d, NetHeaderLayout layout)
    {
        d[0] = (byte)Flags;
        d[1] = (byte)GsoType;
        if (layout.BigEndian)
        {
            BinaryPrimitives.WriteUInt16BigEndian(d.Slice(2), HeaderLength);
            BinaryPrimitives.WriteUInt16BigEndian(d.Slice(4), GsoSize);
            BinaryPrimitives.WriteUInt16BigEndian(d.Slice(6), ChecksumStart);
            BinaryPrimitives.WriteUInt16BigEndian(d.Slice(8), ChecksumOffset);
            if (layout.Size >= NetHeaderLayout.BasicSize)
            {
                BinaryPrimitives.WriteUInt16BigEndian(d.Slice(10), NumBuffers);
            }

            return;
        }

        BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(2), HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(4), GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(6), ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(8), ChecksumOffset);
        if (layout.Size >= NetHeaderLayout.BasicSize)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(10), NumBuffers);
            if (layout.Size >= NetHeaderLayout.HashReportSize)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(d.Slice(12), HashValue);
                BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(16), (ushort)HashReport);
                BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(18), PaddingReserved);
            }
        }
    }
}
