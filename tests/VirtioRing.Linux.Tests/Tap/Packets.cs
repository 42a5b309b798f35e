using System;
using System.Buffers.Binary;
using System.Net;
using VirtioRing.Net;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>
/// Builds and reads the few frames the TAP tests exchange with the kernel: Ethernet II, ARP, IPv4
/// (RFC 791, header checksum), ICMP echo (RFC 792), UDP (RFC 768) and TCP (RFC 9293) with the
/// internet checksum (RFC 1071). Just enough to talk to a real stack; every checksum is computed.
/// </summary>
internal static class Packets
{
    public const int EthernetHeader = 14;
    public const int Ipv4Header = 20;
    public const int TcpHeader = 20;
    public const ushort EtherTypeIpv4 = 0x0800;
    public const ushort EtherTypeArp = 0x0806;
    public const byte ProtocolIcmp = 1;
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;

    public const byte TcpFin = 0x01;
    public const byte TcpSyn = 0x02;
    public const byte TcpRst = 0x04;
    public const byte TcpPsh = 0x08;
    public const byte TcpAck = 0x10;

    public static byte[] Ethernet(MacAddress destination, MacAddress source, ushort etherType, ReadOnlySpan<byte> payload)
    {
        byte[] f = new byte[EthernetHeader + payload.Length];
        destination.WriteTo(f);
        source.WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), etherType);
        payload.CopyTo(f.AsSpan(EthernetHeader));
        return f;
    }

    /// <summary>An ARP request or reply for IPv4 over Ethernet (RFC 826), broadcast when a request.</summary>
    public static byte[] Arp(bool reply, MacAddress senderMac, IPAddress senderIp, MacAddress targetMac, IPAddress targetIp)
    {
        byte[] a = new byte[28];
        BinaryPrimitives.WriteUInt16BigEndian(a, 1);               // htype Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(a.AsSpan(2), EtherTypeIpv4);
        a[4] = 6;
        a[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(a.AsSpan(6), (ushort)(reply ? 2 : 1));
        senderMac.WriteTo(a.AsSpan(8));
        senderIp.GetAddressBytes().CopyTo(a, 14);
        targetMac.WriteTo(a.AsSpan(18));
        targetIp.GetAddressBytes().CopyTo(a, 24);
        MacAddress destination = reply ? targetMac : MacAddress.Broadcast;
        return Ethernet(destination, senderMac, EtherTypeArp, a);
    }

    /// <summary>An IPv4 packet (no options, DF set, TTL 64) with its header checksum.</summary>
    public static byte[] Ipv4(IPAddress source, IPAddress destination, byte protocol, ReadOnlySpan<byte> payload, ushort id)
    {
        byte[] p = new byte[Ipv4Header + payload.Length];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), checked((ushort)p.Length));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), id);
        p[6] = 0x40;   // DF
        p[8] = 64;
        p[9] = protocol;
        source.GetAddressBytes().CopyTo(p, 12);
        destination.GetAddressBytes().CopyTo(p, 16);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), Checksum(p.AsSpan(0, Ipv4Header)));
        payload.CopyTo(p.AsSpan(Ipv4Header));
        return p;
    }

    public static byte[] IcmpEcho(ushort id, ushort sequence, ReadOnlySpan<byte> data)
    {
        byte[] m = new byte[8 + data.Length];
        m[0] = 8;   // echo request
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(6), sequence);
        data.CopyTo(m.AsSpan(8));
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), Checksum(m));
        return m;
    }

    public static byte[] Udp(IPAddress source, IPAddress destination, ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        byte[] u = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(u, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), checked((ushort)u.Length));
        payload.CopyTo(u.AsSpan(8));
        ushort sum = Fold(Sum(u, PseudoHeader(source, destination, ProtocolUdp, u.Length)));
        ushort check = (ushort)~sum;
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(6), check == 0 ? (ushort)0xFFFF : check);
        return u;
    }

    /// <summary>
    /// A TCP segment. With <paramref name="partialChecksum"/> the checksum field holds only the folded
    /// pseudo-header sum (what a driver leaves for the device with <c>NEEDS_CSUM</c>); otherwise the full checksum.
    /// </summary>
    public static byte[] Tcp(IPAddress source, IPAddress destination, ushort sourcePort, ushort destinationPort, uint sequence, uint acknowledgment,
        byte flags, ushort window, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> options = default, bool partialChecksum = false)
    {
        int headerLength = TcpHeader + options.Length;
        byte[] t = new byte[headerLength + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(t, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(8), acknowledgment);
        t[12] = (byte)((headerLength / 4) << 4);
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), window);
        options.CopyTo(t.AsSpan(TcpHeader));
        payload.CopyTo(t.AsSpan(headerLength));
        uint pseudo = PseudoHeader(source, destination, ProtocolTcp, t.Length);
        ushort field = partialChecksum ? Fold(pseudo) : (ushort)~Fold(Sum(t, pseudo));
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(16), field);
        return t;
    }

    /// <summary>The MSS option (kind 2), 4 bytes.</summary>
    public static byte[] MssOption(ushort mss) => [2, 4, (byte)(mss >> 8), (byte)mss];

    public static uint PseudoHeader(IPAddress source, IPAddress destination, byte protocol, int length)
    {
        Span<byte> p = stackalloc byte[12];
        source.GetAddressBytes().CopyTo(p);
        destination.GetAddressBytes().CopyTo(p.Slice(4));
        p[9] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(p.Slice(10), checked((ushort)length));
        return Sum(p, 0);
    }

    public static uint Sum(ReadOnlySpan<byte> data, uint sum)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i));
        }

        if (i < data.Length)
        {
            sum += (uint)(data[i] << 8);
        }

        return sum;
    }

    public static ushort Fold(uint sum)
    {
        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)sum;
    }

    public static ushort Checksum(ReadOnlySpan<byte> data) => (ushort)~Fold(Sum(data, 0));

    // ---- reading ----

    public static ushort EtherType(ReadOnlySpan<byte> frame) => frame.Length < EthernetHeader ? (ushort)0 : BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(12));

    /// <summary>The IPv4 packet of a frame (by its total length), or empty when it is not IPv4.</summary>
    public static ReadOnlySpan<byte> Ipv4Packet(ReadOnlySpan<byte> frame)
    {
        if (EtherType(frame) != EtherTypeIpv4 || frame.Length < EthernetHeader + Ipv4Header)
        {
            return default;
        }

        ReadOnlySpan<byte> ip = frame.Slice(EthernetHeader);
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(2));
        return total <= ip.Length && total >= Ipv4Header ? ip.Slice(0, total) : default;
    }

    public static int Ipv4HeaderLength(ReadOnlySpan<byte> ip) => (ip[0] & 0x0F) * 4;

    public static IPAddress Ipv4Source(ReadOnlySpan<byte> ip) => new(ip.Slice(12, 4));

    public static IPAddress Ipv4Destination(ReadOnlySpan<byte> ip) => new(ip.Slice(16, 4));

    /// <summary>
    /// Checks a received IPv4 packet's header checksum and its TCP/UDP/ICMP checksum. A frame the
    /// device marked <c>NEEDS_CSUM</c> holds only the pseudo-header sum at <c>csum_start + csum_offset</c>:
    /// its checksum is completed first, as a driver would (so that the device's offsets are checked too).
    /// </summary>
    public static bool ChecksumsValid(ReadOnlySpan<byte> frame, in VirtioNetHeader header, out string why)
    {
        byte[] copy = frame.ToArray();
        if ((header.Flags & NetHeaderFlags.NeedsChecksum) != 0)
        {
            int start = header.ChecksumStart;
            int at = start + header.ChecksumOffset;
            if (at + 2 > copy.Length)
            {
                why = $"csum_start {start} + csum_offset {header.ChecksumOffset} lies past the frame ({copy.Length} bytes)";
                return false;
            }

            ushort done = (ushort)~Fold(Sum(copy.AsSpan(start), 0));
            BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(at), done);
        }

        ReadOnlySpan<byte> ip = Ipv4Packet(copy);
        if (ip.IsEmpty)
        {
            why = "not IPv4";
            return false;
        }

        int ihl = Ipv4HeaderLength(ip);
        if (Checksum(ip.Slice(0, ihl)) != 0)
        {
            why = "bad IPv4 header checksum";
            return false;
        }

        ReadOnlySpan<byte> l4 = ip.Slice(ihl);
        byte protocol = ip[9];
        uint pseudo = protocol == ProtocolIcmp ? 0 : PseudoHeader(Ipv4Source(ip), Ipv4Destination(ip), protocol, l4.Length);
        if (protocol == ProtocolUdp && BinaryPrimitives.ReadUInt16BigEndian(l4.Slice(6)) == 0)
        {
            why = string.Empty;   // no UDP checksum
            return true;
        }

        if (Fold(Sum(l4, pseudo)) != 0xFFFF)
        {
            why = $"bad protocol {protocol} checksum (NEEDS_CSUM = {(header.Flags & NetHeaderFlags.NeedsChecksum) != 0})";
            return false;
        }

        why = string.Empty;
        return true;
    }
}
