using System;
using System.Buffers.Binary;
using System.Net;
using VirtioRing.Net;
using VirtioRing.Net.Offload;

namespace VirtioRing.Linux.Tests.Packet;

/// <summary>Builds and parses the Ethernet/ARP/IPv4/ICMP/UDP/TCP frames the packet-socket tests exchange with the kernel.</summary>
internal static class TestFrames
{
    public const int EthernetLength = 14;
    public const int Ipv4Length = 20;
    public const int TcpLength = 20;
    public const byte TcpFin = 0x01;
    public const byte TcpSyn = 0x02;
    public const byte TcpRst = 0x04;
    public const byte TcpPsh = 0x08;
    public const byte TcpAck = 0x10;

    public static byte[] ArpRequest(MacAddress sender, IPAddress senderIp, IPAddress targetIp)
    {
        var f = new byte[42];
        MacAddress.Broadcast.WriteTo(f);
        sender.WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 1);        // htype Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800);   // ptype IPv4
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), 1);        // request
        sender.WriteTo(f.AsSpan(22));
        senderIp.TryWriteBytes(f.AsSpan(28), out _);
        targetIp.TryWriteBytes(f.AsSpan(38), out _);
        return f;
    }

    /// <summary>Whether a frame is an ARP reply from <paramref name="senderIp"/>; returns the sender's MAC.</summary>
    public static bool IsArpReply(ReadOnlySpan<byte> f, IPAddress senderIp, out MacAddress senderMac)
    {
        senderMac = default;
        if (f.Length < 42 || BinaryPrimitives.ReadUInt16BigEndian(f.Slice(12)) != 0x0806 || BinaryPrimitives.ReadUInt16BigEndian(f.Slice(20)) != 2)
        {
            return false;
        }

        senderMac = MacAddress.Read(f.Slice(22));
        return new IPAddress(f.Slice(28, 4)).Equals(senderIp);
    }

    public static byte[] IcmpEcho(MacAddress src, MacAddress dst, IPAddress srcIp, IPAddress dstIp, ushort id, ushort seq, ReadOnlySpan<byte> payload)
    {
        int icmp = 8 + payload.Length;
        byte[] f = Ipv4(src, dst, srcIp, dstIp, protocol: 1, icmp);
        Span<byte> m = f.AsSpan(EthernetLength + Ipv4Length);
        m[0] = 8;   // echo request
        BinaryPrimitives.WriteUInt16BigEndian(m.Slice(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(m.Slice(6), seq);
        payload.CopyTo(m.Slice(8));
        BinaryPrimitives.WriteUInt16BigEndian(m.Slice(2), InternetChecksum.Compute(m));
        return f;
    }

    /// <summary>Whether a frame is an ICMP echo reply with this id and sequence; returns its payload.</summary>
    public static bool IsEchoReply(ReadOnlySpan<byte> f, ushort id, ushort seq, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (!IsIpv4(f, 1, out ReadOnlySpan<byte> m) || m.Length < 8 || m[0] != 0)
        {
            return false;
        }

        payload = m.Slice(8);
        return BinaryPrimitives.ReadUInt16BigEndian(m.Slice(4)) == id && BinaryPrimitives.ReadUInt16BigEndian(m.Slice(6)) == seq && InternetChecksum.Verify(m);
    }

    /// <summary>A UDP datagram; with <paramref name="partialChecksum"/> the checksum field holds the pseudo-header sum (for <c>NEEDS_CSUM</c>), else the full checksum.</summary>
    public static byte[] Udp(MacAddress src, MacAddress dst, IPAddress srcIp, IPAddress dstIp, ushort srcPort, ushort dstPort, ReadOnlySpan<byte> payload, bool partialChecksum = false)
    {
        int udp = 8 + payload.Length;
        byte[] f = Ipv4(src, dst, srcIp, dstIp, protocol: 17, udp);
        Span<byte> u = f.AsSpan(EthernetLength + Ipv4Length);
        BinaryPrimitives.WriteUInt16BigEndian(u, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(u.Slice(2), dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(u.Slice(4), (ushort)udp);
        payload.CopyTo(u.Slice(8));
        ushort pseudo = InternetChecksum.PseudoHeaderSumIPv4(Address(srcIp), Address(dstIp), InternetChecksum.ProtocolUdp, (ushort)udp);
        ushort check = partialChecksum ? pseudo : (ushort)~InternetChecksum.Sum(u, pseudo);
        BinaryPrimitives.WriteUInt16BigEndian(u.Slice(6), check == 0 && !partialChecksum ? (ushort)0xFFFF : check);
        return f;
    }

    /// <summary>The virtio-net header asking the device to complete a UDP or TCP checksum over IPv4 (no options).</summary>
    public static VirtioNetHeader NeedsChecksum(bool tcp) => new()
    {
        Flags = NetHeaderFlags.NeedsChecksum,
        ChecksumStart = EthernetLength + Ipv4Length,
        ChecksumOffset = (ushort)(tcp ? 16 : 6),
    };

    /// <summary>Whether a frame is a UDP datagram to <paramref name="dstPort"/>; returns its source port and payload.</summary>
    public static bool IsUdp(ReadOnlySpan<byte> f, ushort dstPort, out ushort srcPort, out ReadOnlySpan<byte> payload)
    {
        srcPort = 0;
        payload = default;
        if (!IsIpv4(f, 17, out ReadOnlySpan<byte> u) || u.Length < 8 || BinaryPrimitives.ReadUInt16BigEndian(u.Slice(2)) != dstPort)
        {
            return false;
        }

        srcPort = BinaryPrimitives.ReadUInt16BigEndian(u);
        int length = BinaryPrimitives.ReadUInt16BigEndian(u.Slice(4));
        if (length < 8 || length > u.Length)
        {
            return false;
        }

        payload = u.Slice(8, length - 8);
        return true;
    }

    /// <summary>
    /// A TCP segment (no options, or an MSS option on a SYN). With <paramref name="header"/> NEEDS_CSUM the checksum
    /// field holds the pseudo-header sum over the whole segment (what Linux leaves for the device, GSO or not);
    /// otherwise the full checksum.
    /// </summary>
    public static byte[] Tcp(MacAddress src, MacAddress dst, IPAddress srcIp, IPAddress dstIp, ushort srcPort, ushort dstPort,
        uint seq, uint ack, byte flags, ushort window, ReadOnlySpan<byte> payload, bool partialChecksum = false, ushort mss = 0)
    {
        int options = mss != 0 ? 4 : 0;
        int tcp = TcpLength + options + payload.Length;
        byte[] f = Ipv4(src, dst, srcIp, dstIp, protocol: 6, tcp);
        Span<byte> t = f.AsSpan(EthernetLength + Ipv4Length);
        BinaryPrimitives.WriteUInt16BigEndian(t, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(t.Slice(2), dstPort);
        BinaryPrimitives.WriteUInt32BigEndian(t.Slice(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(t.Slice(8), ack);
        t[12] = (byte)(((TcpLength + options) / 4) << 4);
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.Slice(14), window);
        if (mss != 0)
        {
            t[20] = 2;
            t[21] = 4;
            BinaryPrimitives.WriteUInt16BigEndian(t.Slice(22), mss);
        }

        payload.CopyTo(t.Slice(TcpLength + options));
        ushort pseudo = InternetChecksum.PseudoHeaderSumIPv4(Address(srcIp), Address(dstIp), InternetChecksum.ProtocolTcp, (ushort)Math.Min(tcp, ushort.MaxValue));
        BinaryPrimitives.WriteUInt16BigEndian(t.Slice(16), partialChecksum ? pseudo : (ushort)~InternetChecksum.Sum(t, pseudo));
        return f;
    }

    /// <summary>Parses a TCP segment between two ports.</summary>
    public static bool IsTcp(ReadOnlySpan<byte> f, ushort srcPort, ushort dstPort, out uint seq, out uint ack, out byte flags, out ushort window, out ReadOnlySpan<byte> payload)
    {
        seq = ack = 0;
        flags = 0;
        window = 0;
        payload = default;
        if (!IsIpv4(f, 6, out ReadOnlySpan<byte> t) || t.Length < TcpLength ||
            BinaryPrimitives.ReadUInt16BigEndian(t) != srcPort || BinaryPrimitives.ReadUInt16BigEndian(t.Slice(2)) != dstPort)
        {
            return false;
        }

        seq = BinaryPrimitives.ReadUInt32BigEndian(t.Slice(4));
        ack = BinaryPrimitives.ReadUInt32BigEndian(t.Slice(8));
        int offset = (t[12] >> 4) * 4;
        flags = t[13];
        window = BinaryPrimitives.ReadUInt16BigEndian(t.Slice(14));
        if (offset < TcpLength || offset > t.Length)
        {
            return false;
        }

        payload = t.Slice(offset);
        return true;
    }

    /// <summary>Whether a frame is IPv4 carrying <paramref name="protocol"/>; returns the transport bytes (cut to the IP total length).</summary>
    public static bool IsIpv4(ReadOnlySpan<byte> f, byte protocol, out ReadOnlySpan<byte> transport)
    {
        transport = default;
        if (f.Length < EthernetLength + Ipv4Length || BinaryPrimitives.ReadUInt16BigEndian(f.Slice(12)) != 0x0800 || f[EthernetLength + 9] != protocol)
        {
            return false;
        }

        int ihl = (f[EthernetLength] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(f.Slice(EthernetLength + 2));
        if (total == 0)
        {
            total = f.Length - EthernetLength;   // a GSO super-frame over 64 KiB leaves it 0
        }

        if (ihl < Ipv4Length || total < ihl || EthernetLength + total > f.Length)
        {
            return false;
        }

        transport = f.Slice(EthernetLength + ihl, total - ihl);
        return true;
    }

    public static byte[] Address(IPAddress ip) => ip.GetAddressBytes();

    private static byte[] Ipv4(MacAddress src, MacAddress dst, IPAddress srcIp, IPAddress dstIp, byte protocol, int transportLength)
    {
        int total = Ipv4Length + transportLength;
        var f = new byte[EthernetLength + total];
        dst.WriteTo(f);
        src.WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(EthernetLength, Ipv4Length);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)Math.Min(total, ushort.MaxValue));
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(6), 0x4000);   // don't fragment
        ip[8] = 64;
        ip[9] = protocol;
        srcIp.TryWriteBytes(ip.Slice(12), out _);
        dstIp.TryWriteBytes(ip.Slice(16), out _);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(10), InternetChecksum.Compute(ip));
        return f;
    }
}
