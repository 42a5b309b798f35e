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
[StructLayout(LayoutKind.Auto)]
public partial struct VirtioNetHeader : IEquatable<VirtioNetHeader>
{
    /// <summary>Gets or sets <c>flags</c>.</summary>
    public NetHeaderFlags Flags { get; set; }

    /// <summary>Gets or sets <c>gso_type</c>.</summary>
    public NetGsoType GsoType { get; set; }

    /// <summary>Gets or sets <c>hdr_len</c>: the length of the headers to replicate per segment (a hint unless <c>GUEST_HDRLEN</c>).</summary>
    public ushort HeaderLength { get; set; }

    /// <summary>Gets or sets <c>gso_size</c>: the segment payload size (MSS) of a super-frame.</summary>
    public ushort GsoSize { get; set; }

    /// <summary>Gets or sets <c>csum_start</c>: where checksumming starts (or, with <c>RSC_INFO</c>, the coalesced segment count).</summary>
    public ushort ChecksumStart { get; set; }

    /// <summary>Gets or sets <c>csum_offset</c>: where after <c>csum_start</c> the checksum goes (or, with <c>RSC_INFO</c>, the duplicate ACK count).</summary>
    public ushort ChecksumOffset { get; set; }

    /// <summary>Gets or sets <c>num_buffers</c>: how many receive buffers the frame spans (12- and 20-byte layouts; zero on transmit).</summary>
    public ushort NumBuffers { get; set; }

    /// <summary>Gets or sets <c>hash_value</c> (20-byte layout).</summary>
    public uint HashValue { get; set; }

    /// <summary>Gets or sets <c>hash_report</c> (20-byte layout).</summary>
    public NetHashReport HashReport { get; set; }

    /// <summary>Gets or sets <c>padding_reserved</c> (20-byte layout; zero when written by a conforming side).</summary>
    public ushort PaddingReserved { get; set; }

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

    private static VirtioNetHeader Decode(ReadOnlySpan<byte> s, NetHeaderLayout layout)
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

    private readonly void Encode(Span<byte> d, NetHeaderLayout layout)
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
