using System;
using System.Buffers.Binary;
using VirtioRing.Net.Offload;

namespace VirtioRing.Tests.Net.Offload;

/// <summary>How a built packet's transport checksum field is filled.</summary>
internal enum ChecksumFill
{
    /// <summary>The correct checksum.</summary>
    Full,

    /// <summary>The pseudo-header sum, as a driver leaves it for <c>NEEDS_CSUM</c> (virtio 1.2 §5.1.6.2).</summary>
    Partial,

    /// <summary>Zero.</summary>
    Zero,
}

/// <summary>What to build.</summary>
internal sealed record PacketSpec(
    bool IPv6,
    bool Tcp,
    int PayloadLength,
    int VlanTags = 0,
    int IPv4OptionWords = 0,
    int TcpOptionWords = 0,
    byte TcpFlags = 0x18,              // PSH | ACK
    uint Sequence = 0x11223344,
    ushort IPv4Id = 0x1234,
    int IPv6HopByHopBytes = 0,         // 0 or a multiple of 8
    ChecksumFill Fill = ChecksumFill.Full,
    int Seed = 1);

/// <summary>Builds Ethernet / IPv4 or IPv6 / TCP or UDP frames with a reference checksum (<see cref="Naive"/>), for tests.</summary>
internal static class Packets
{
    public static int L3Offset(PacketSpec s) => 14 + (4 * s.VlanTags);

    public static int L4Offset(PacketSpec s) => L3Offset(s) + (s.IPv6 ? 40 + s.IPv6HopByHopBytes : 20 + (4 * s.IPv4OptionWords));

    public static int L4HeaderLength(PacketSpec s) => s.Tcp ? 20 + (4 * s.TcpOptionWords) : 8;

    public static int HeaderLength(PacketSpec s) => L4Offset(s) + L4HeaderLength(s);

    public static byte[] Build(PacketSpec s)
    {
        var random = new Random(s.Seed);
        int l3 = L3Offset(s), l4 = L4Offset(s), l4Header = L4HeaderLength(s);
        var f = new byte[l4 + l4Header + s.PayloadLength];
        random.NextBytes(f.AsSpan(0, 12));                                   // MACs
        int at = 12;
        for (int t = 0; t < s.VlanTags; t++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(at), t == 0 && s.VlanTags == 2 ? (ushort)0x88A8 : (ushort)0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(at + 2), (ushort)random.Next(1, 4095));
            at += 4;
        }

        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(at), s.IPv6 ? (ushort)0x86DD : (ushort)0x0800);
        byte protocol = s.Tcp ? (byte)6 : (byte)17;
        Span<byte> ip = f.AsSpan(l3);
        if (s.IPv6)
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), (ushort)(f.Length - l3 - 40));
            ip[6] = s.IPv6HopByHopBytes > 0 ? (byte)0 : protocol;
            ip[7] = 64;
            random.NextBytes(ip.Slice(8, 32));
            if (s.IPv6HopByHopBytes > 0)
            {
                ip[40] = protocol;
                ip[41] = (byte)((s.IPv6HopByHopBytes / 8) - 1);
                ip[42] = 1;                                   // PadN option covering the rest
                ip[43] = (byte)(s.IPv6HopByHopBytes - 4);
            }
        }
        else
        {
            ip[0] = (byte)(0x45 + s.IPv4OptionWords);
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(f.Length - l3));
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), s.IPv4Id);
            ip[6] = 0x40;                                      // DF
            ip[8] = 64;
            ip[9] = protocol;
            random.NextBytes(ip.Slice(12, 8));
            for (int i = 0; i < 4 * s.IPv4OptionWords; i++)
            {
                ip[20 + i] = 1;                                // NOP options
            }

            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(10), (ushort)~Naive(ip.Slice(0, l4 - l3)));
        }

        Span<byte> t4 = f.AsSpan(l4);
        random.NextBytes(t4.Slice(0, 4));                      // ports
        random.NextBytes(t4.Slice(l4Header));                  // payload
        int checksumField;
        if (s.Tcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(t4.Slice(4), s.Sequence);
            BinaryPrimitives.WriteUInt32BigEndian(t4.Slice(8), 0xA0B0C0D0);
            t4[12] = (byte)((5 + s.TcpOptionWords) << 4);
            t4[13] = s.TcpFlags;
            BinaryPrimitives.WriteUInt16BigEndian(t4.Slice(14), 0xFFFF);
            for (int i = 0; i < 4 * s.TcpOptionWords; i++)
            {
                t4[20 + i] = 1;
            }

            checksumField = 16;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(t4.Slice(4), (ushort)t4.Length);
            checksumField = 6;
        }

        ushort pseudo = NaivePseudo(f, s);
        ushort value = s.Fill switch
        {
            ChecksumFill.Full => FinishNaive(NaiveAdd(pseudo, Naive(t4))),
            ChecksumFill.Partial => pseudo,
            _ => 0,
        };
        BinaryPrimitives.WriteUInt16BigEndian(t4.Slice(checksumField), value);
        return f;
    }

    /// <summary>The reference: big-endian 16-bit words added one by one into a wide integer, then folded (RFC 1071 §4.1).</summary>
    public static ushort Naive(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        for (int i = 0; i < data.Length; i += 2)
        {
            sum += (ulong)((data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0));
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)sum;
    }

    public static ushort NaiveAdd(ushort a, ushort b)
    {
        uint s = (uint)a + b;
        return (ushort)((s & 0xFFFF) + (s >> 16));
    }

    public static ushort FinishNaive(ushort sum) => (ushort)~sum == 0 ? (ushort)0xFFFF : (ushort)~sum;

    /// <summary>The pseudo-header sum, built as bytes (RFC 9293 §3.1, RFC 8200 §8.1) and summed naively.</summary>
    public static ushort NaivePseudo(byte[] frame, PacketSpec s) => NaivePseudo(frame, L3Offset(s), s.IPv6, s.Tcp ? (byte)6 : (byte)17, frame.Length - L4Offset(s));

    public static ushort NaivePseudo(ReadOnlySpan<byte> frame, int l3, bool v6, byte protocol, int l4Length)
    {
        if (v6)
        {
            var p = new byte[40];
            frame.Slice(l3 + 8, 32).CopyTo(p);
            BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(32), (uint)l4Length);
            p[39] = protocol;
            return Naive(p);
        }
        else
        {
            var p = new byte[12];
            frame.Slice(l3 + 12, 8).CopyTo(p);
            p[9] = protocol;
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), (ushort)l4Length);
            return Naive(p);
        }
    }

    /// <summary>Whether the transport checksum of a whole (unfragmented) packet verifies, by the naive reference.</summary>
    public static bool TransportVerifies(ReadOnlySpan<byte> frame, int l3, int l4, bool v6, byte protocol)
    {
        int l4Length = frame.Length - l4;
        return NaiveAdd(NaivePseudo(frame, l3, v6, protocol, l4Length), Naive(frame.Slice(l4))) == 0xFFFF;
    }

    /// <summary>Splits <paramref name="data"/> into random pieces (any lengths, odd and empty ones included).</summary>
    public static byte[][] RandomSplit(byte[] data, Random random)
    {
        int pieces = random.Next(1, 9);
        var cuts = new int[pieces + 1];
        cuts[pieces] = data.Length;
        for (int i = 1; i < pieces; i++)
        {
            cuts[i] = random.Next(0, data.Length + 1);
        }

        Array.Sort(cuts);
        var result = new byte[pieces][];
        for (int i = 0; i < pieces; i++)
        {
            result[i] = data.AsSpan(cuts[i], cuts[i + 1] - cuts[i]).ToArray();
        }

        return result;
    }

    /// <summary>A gather over arrays, for the internal gather core.</summary>
    internal readonly struct ArraySegments(byte[][] pieces) : IReadOnlySegments
    {
        public int Count => pieces.Length;

        public ReadOnlySpan<byte> Get(int index) => pieces[index];
    }
}
