using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VirtioRing.Net.Offload;

/// <summary>
/// Where the headers of an Ethernet frame are: L2 (up to two VLAN tags), IPv4 or IPv6 (extension headers walked), and TCP
/// or UDP. Produced by <see cref="TryParse"/>, which checks every length against the bytes it was given; all offsets are
/// into that span.
/// </summary>
[DebuggerDisplay("L3@{L3Offset} v{IPVersion} L4@{L4Offset} proto={Protocol} payload@{PayloadOffset}")]
[StructLayout(LayoutKind.Auto)]
internal readonly struct FrameLayout
{
    public const int EthernetHeaderLength = 14;
    public const int VlanTagLength = 4;
    public const ushort EtherTypeIPv4 = 0x0800;
    public const ushort EtherTypeIPv6 = 0x86DD;
    public const ushort EtherTypeVlan = 0x8100;       // IEEE 802.1Q
    public const ushort EtherTypeQinQ = 0x88A8;       // IEEE 802.1ad
    public const int IPv6HeaderLength = 40;
    public const int TcpMinHeaderLength = 20;
    public const int UdpHeaderLength = 8;
    private const int MaxVlanTags = 2;
    private const int MaxIPv6ExtensionHeaders = 8;    // bounds the walk; real stacks send one or two

    /// <summary>Offset of the IP header.</summary>
    public int L3Offset { get; init; }

    /// <summary>4 or 6.</summary>
    public int IPVersion { get; init; }

    /// <summary>IPv4 header length (IHL × 4) or 40 plus the extension headers walked.</summary>
    public int L3HeaderLength { get; init; }

    /// <summary>Where the IP packet ends by its own length field (IPv4 total length; IPv6 40 + payload length); never past the span.</summary>
    public int IPEnd { get; init; }

    /// <summary>Whether the packet is an IP fragment (IPv4 MF or offset; an IPv6 fragment header).</summary>
    public bool IsFragment { get; init; }

    /// <summary>Whether the packet is a non-first fragment (its transport header is elsewhere).</summary>
    public bool IsLaterFragment { get; init; }

    /// <summary>Whether IPv6 extension headers were present.</summary>
    public bool HasIPv6Extensions { get; init; }

    /// <summary>Whether an IPv6 routing header was present (the pseudo-header would need the final destination).</summary>
    public bool HasIPv6Routing { get; init; }

    /// <summary>The transport protocol (IPv4 protocol or the last IPv6 next header).</summary>
    public byte Protocol { get; init; }

    /// <summary>Offset of the transport header (the end of the IP headers).</summary>
    public int L4Offset => L3Offset + L3HeaderLength;

    /// <summary>TCP header length (data offset × 4) or 8 for UDP; 0 when the transport was not parsed.</summary>
    public int L4HeaderLength { get; init; }

    /// <summary>Offset of the transport payload.</summary>
    public int PayloadOffset => L4Offset + L4HeaderLength;

    public bool IsTcp => Protocol == InternetChecksum.ProtocolTcp && L4HeaderLength != 0;

    public bool IsUdp => Protocol == InternetChecksum.ProtocolUdp && L4HeaderLength != 0;

    /// <summary>
    /// Parses the headers of <paramref name="frame"/>. IP and transport headers must lie inside the span; the IP length field
    /// is checked (it may not exceed the span nor undercut the headers) and kept as <see cref="IPEnd"/>. A TCP or UDP header
    /// is parsed only in a whole packet or a first fragment.
    /// </summary>
    public static OffloadError TryParse(ReadOnlySpan<byte> frame, out FrameLayout layout)
    {
        layout = default;
        if (frame.Length < EthernetHeaderLength)
        {
            return OffloadError.TruncatedEthernetHeader;
        }

        int l3 = EthernetHeaderLength;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(12));
        for (int tags = 0; etherType == EtherTypeVlan || etherType == EtherTypeQinQ; tags++)
        {
            if (tags == MaxVlanTags)
            {
                return OffloadError.UnsupportedEtherType;
            }

            if (frame.Length < l3 + VlanTagLength)
            {
                return OffloadError.TruncatedEthernetHeader;
            }

            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(l3 + 2));
            l3 += VlanTagLength;
        }

        return etherType switch
        {
            EtherTypeIPv4 => ParseIPv4(frame, l3, out layout),
            EtherTypeIPv6 => ParseIPv6(frame, l3, out layout),
            _ => OffloadError.UnsupportedEtherType,
        };
    }

    private static OffloadError ParseIPv4(ReadOnlySpan<byte> frame, int l3, out FrameLayout layout)
    {
        layout = default;
        if (frame.Length - l3 < 20)
        {
            return OffloadError.TruncatedIPHeader;
        }

        ReadOnlySpan<byte> ip = frame.Slice(l3);
        if (ip[0] >> 4 != 4)
        {
            return OffloadError.BadIPVersion;
        }

        int ihl = (ip[0] & 0xF) * 4;
        if (ihl < 20)
        {
            return OffloadError.BadIPv4HeaderLength;
        }

        if (ip.Length < ihl)
        {
            return OffloadError.TruncatedIPHeader;
        }

        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(2));
        if (totalLength < ihl || totalLength > ip.Length)
        {
            return OffloadError.BadIPLength;
        }

        ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(6));
        bool isFragment = (fragment & 0x3FFF) != 0;        // MF or a fragment offset (RFC 791)
        bool isLater = (fragment & 0x1FFF) != 0;
        var partial = new FrameLayout
        {
            L3Offset = l3,
            IPVersion = 4,
            L3HeaderLength = ihl,
            IPEnd = l3 + totalLength,
            IsFragment = isFragment,
            IsLaterFragment = isLater,
            Protocol = ip[9],
        };
        return ParseTransport(frame, partial, out layout);
    }

    private static OffloadError ParseIPv6(ReadOnlySpan<byte> frame, int l3, out FrameLayout layout)
    {
        layout = default;
        if (frame.Length - l3 < IPv6HeaderLength)
        {
            return OffloadError.TruncatedIPHeader;
        }

        ReadOnlySpan<byte> ip = frame.Slice(l3);
        if (ip[0] >> 4 != 6)
        {
            return OffloadError.BadIPVersion;
        }

        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(4));
        if (payloadLength > ip.Length - IPv6HeaderLength)
        {
            return OffloadError.BadIPLength;
        }

        int ipEnd = l3 + IPv6HeaderLength + payloadLength;
        byte next = ip[6];
        int offset = IPv6HeaderLength;
        bool isFragment = false, isLater = false, extensions = false, routing = false;
        for (int n = 0; ; n++)
        {
            int extLength;
            switch (next)
            {
                case 0:    // Hop-by-Hop Options (RFC 8200 §4.3)
                case 43:   // Routing (§4.4)
                case 60:   // Destination Options (§4.6)
                    if (ip.Length - offset < 8)
                    {
                        return OffloadError.TruncatedIPHeader;
                    }

                    extLength = (ip[offset + 1] + 1) * 8;
                    routing |= next == 43;
                    break;
                case 44:   // Fragment (§4.5): 8 bytes
                    if (ip.Length - offset < 8)
                    {
                        return OffloadError.TruncatedIPHeader;
                    }

                    extLength = 8;
                    ushort field = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(offset + 2));
                    isFragment = true;
                    isLater |= (field & 0xFFF8) != 0;
                    break;
                default:
                    var partial = new FrameLayout
                    {
                        L3Offset = l3,
                        IPVersion = 6,
                        L3HeaderLength = offset,
                        IPEnd = ipEnd,
                        IsFragment = isFragment,
                        IsLaterFragment = isLater,
                        HasIPv6Extensions = extensions,
                        HasIPv6Routing = routing,
                        Protocol = next,
                    };
                    if (offset > IPv6HeaderLength + payloadLength)
                    {
                        return OffloadError.BadIPLength;
                    }

                    return ParseTransport(frame, partial, out layout);
            }

            if (n == MaxIPv6ExtensionHeaders)
            {
                return OffloadError.UnsupportedIPv6ExtensionHeader;
            }

            if (ip.Length - offset < extLength)
            {
                return OffloadError.TruncatedIPHeader;
            }

            next = ip[offset];
            offset += extLength;
            extensions = true;
        }
    }

    private static OffloadError ParseTransport(ReadOnlySpan<byte> frame, FrameLayout partial, out FrameLayout layout)
    {
        layout = partial;
        if (partial.IsLaterFragment)
        {
            return OffloadError.None;
        }

        int l4 = partial.L4Offset;
        int available = frame.Length - l4;
        if (partial.Protocol == InternetChecksum.ProtocolTcp)
        {
            if (available < TcpMinHeaderLength)
            {
                return OffloadError.TruncatedTransportHeader;
            }

            int doff = (frame[l4 + 12] >> 4) * 4;
            if (doff < TcpMinHeaderLength)
            {
                return OffloadError.BadTcpDataOffset;
            }

            if (available < doff)
            {
                return OffloadError.TruncatedTransportHeader;
            }

            layout = partial with { L4HeaderLength = doff };
        }
        else if (partial.Protocol == InternetChecksum.ProtocolUdp)
        {
            if (available < UdpHeaderLength)
            {
                return OffloadError.TruncatedTransportHeader;
            }

            layout = partial with { L4HeaderLength = UdpHeaderLength };
        }

        return OffloadError.None;
    }
}
