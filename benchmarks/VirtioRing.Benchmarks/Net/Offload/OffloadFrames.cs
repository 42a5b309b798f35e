using System;
using System.Buffers.Binary;
using VirtioRing.Net.Offload;

namespace VirtioRing.Benchmarks.Net.Offload;

/// <summary>Frames for the offload benchmarks: Ethernet / IPv4 / TCP with timestamps (a 32-byte TCP header), as Linux sends.</summary>
internal static class OffloadFrames
{
    public const int L3 = 14;
    public const int L4 = 34;
    public const int Header = 66;   // 14 + 20 + 32

    /// <summary>Builds a TCP/IPv4 frame with <paramref name="payload"/> random bytes and correct checksums.</summary>
    public static byte[] TcpIPv4(int payload)
    {
        var random = new Random(42);
        var f = new byte[Header + payload];
        random.NextBytes(f);
        f[12] = 0x08;
        f[13] = 0x00;
        Span<byte> ip = f.AsSpan(L3, 20);
        ip[0] = 0x45;
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)Math.Min(f.Length - L3, 65535));
        ip[6] = 0x40;
        ip[7] = 0;
        ip[8] = 64;
        ip[9] = InternetChecksum.ProtocolTcp;
        ip[10] = 0;
        ip[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(10), InternetChecksum.Compute(ip));
        Span<byte> tcp = f.AsSpan(L4);
        tcp[12] = 0x80;                  // data offset 8 words
        tcp[13] = 0x18;                  // PSH | ACK
        tcp[16] = 0;
        tcp[17] = 0;
        ushort pseudo = InternetChecksum.PseudoHeaderSumIPv4(ip.Slice(12, 4), ip.Slice(16, 4), InternetChecksum.ProtocolTcp, (ushort)tcp.Length);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(16), (ushort)~InternetChecksum.Sum(tcp, pseudo));
        return f;
    }
}
