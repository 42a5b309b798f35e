using System;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Net.Multiqueue;
using Xunit;
using static VirtioRing.Tests.Net.Multiqueue.TestFrames;

namespace VirtioRing.Tests.Net.Multiqueue;

public class ToeplitzHashTests
{
    // Microsoft, "Verifying the RSS Hash Calculation" (Windows driver docs), with the 40-byte key
    // 6d5a56da…beac01fa; the same table is the Intel 82599 datasheet §7.1.2.8.3 "RSS Verification Suite"
    // and DPDK app/test/test_thash.c. Columns: source, source port, destination, destination port,
    // hash of the addresses only, hash of addresses and ports.
    public static TheoryData<string, ushort, string, ushort, uint, uint> IPv4Vectors => new()
    {
        { "66.9.149.187", 2794, "161.142.100.80", 1766, 0x323e8fc2, 0x51ccc178 },
        { "199.92.111.2", 14230, "65.69.140.83", 4739, 0xd718262a, 0xc626b0ea },
        { "24.19.198.95", 12898, "12.22.207.184", 38024, 0xd2d0a5de, 0x5c2b394a },
        { "38.27.205.30", 48228, "209.142.163.6", 2217, 0x82989176, 0xafc7327f },
        { "153.39.163.191", 44251, "202.188.127.2", 1303, 0x5d1809c5, 0x10e828a2 },
    };

    public static TheoryData<string, ushort, string, ushort, uint, uint> IPv6Vectors => new()
    {
        { "3ffe:2501:200:1fff::7", 2794, "3ffe:2501:200:3::1", 1766, 0x2cc18cd5, 0x40207d3d },
        { "3ffe:501:8::260:97ff:fe40:efab", 14230, "ff02::1", 4739, 0x0f0c461c, 0xdde51bbf },
        { "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, "fe80::200:f8ff:fe21:67cf", 38024, 0x4b61e985, 0x02d1feef },
    };

    private static readonly ToeplitzHash Microsoft = new(MicrosoftKey);

    [Theory]
    [MemberData(nameof(IPv4Vectors))]
    [MemberData(nameof(IPv6Vectors))]
    public void Compute_MicrosoftVectorWithoutPorts_MatchesPublishedHash(string src, ushort sport, string dst, ushort dport, uint addressesOnly, uint withPorts)
    {
        _ = (sport, dport, withPorts);
        byte[] input = Concat(Addr(src), Addr(dst));
        Assert.Equal(addressesOnly, Microsoft.Compute(input));
        Assert.Equal(addressesOnly, ToeplitzHash.ComputeBitwise(MicrosoftKey, input));
    }

    [Theory]
    [MemberData(nameof(IPv4Vectors))]
    [MemberData(nameof(IPv6Vectors))]
    public void Compute_MicrosoftVectorWithPorts_MatchesPublishedHash(string src, ushort sport, string dst, ushort dport, uint addressesOnly, uint withPorts)
    {
        _ = addressesOnly;
        byte[] input = Concat(Addr(src), Addr(dst), Port(sport), Port(dport));
        Assert.Equal(withPorts, Microsoft.Compute(input));
        Assert.Equal(withPorts, ToeplitzHash.ComputeBitwise(MicrosoftKey, input));
    }

    [Theory]
    [MemberData(nameof(IPv4Vectors))]
    public void Calculate_MicrosoftVectorAsTcpV4Frame_MatchesPublishedHashes(string src, ushort sport, string dst, ushort dport, uint addressesOnly, uint withPorts)
    {
        byte[] frame = IPv4(src, dst, Tcp, sport, dport);
        var all = new NetHashCalculator(NetHashTypes.IPv4 | NetHashTypes.TcpV4, MicrosoftKey);
        var ipOnly = new NetHashCalculator(NetHashTypes.IPv4, MicrosoftKey);
        Assert.Equal(new NetHashResult(withPorts, NetHashReport.TcpV4), all.Calculate(frame));
        Assert.Equal(new NetHashResult(addressesOnly, NetHashReport.IPv4), ipOnly.Calculate(frame));
    }

    [Theory]
    [MemberData(nameof(IPv6Vectors))]
    public void Calculate_MicrosoftVectorAsTcpV6Frame_MatchesPublishedHashes(string src, ushort sport, string dst, ushort dport, uint addressesOnly, uint withPorts)
    {
        byte[] frame = IPv6(src, dst, Tcp, sport, dport);
        var all = new NetHashCalculator(NetHashTypes.IPv6 | NetHashTypes.TcpV6, MicrosoftKey);
        var ipOnly = new NetHashCalculator(NetHashTypes.IPv6, MicrosoftKey);
        Assert.Equal(new NetHashResult(withPorts, NetHashReport.TcpV6), all.Calculate(frame));
        Assert.Equal(new NetHashResult(addressesOnly, NetHashReport.IPv6), ipOnly.Calculate(frame));
    }

    [Property(MaxTest = 1000)]
    public Property Compute_AnyKeyAndInput_EqualsBitwiseReference() => Prop.ForAll(
        Arb.From(from inputLength in Gen.Choose(0, 60)
                 from extra in Gen.Choose(0, 8)
                 from key in Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), inputLength + 4 + extra + 1)
                 from input in Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), inputLength)
                 select (key, input)),
        c => new ToeplitzHash(c.key).Compute(c.input) == ToeplitzHash.ComputeBitwise(c.key, c.input));

    [Property(MaxTest = 1000)]
    public Property Compute_XorOfInputs_IsXorOfHashes() => Prop.ForAll(
        Arb.From(from length in Gen.Choose(0, 36)
                 from a in Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), length)
                 from b in Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), length)
                 select (a, b)),
        c =>
        {
            var xor = new byte[c.a.Length];
            for (int i = 0; i < xor.Length; i++)
            {
                xor[i] = (byte)(c.a[i] ^ c.b[i]);
            }

            return Microsoft.Compute(xor) == (Microsoft.Compute(c.a) ^ Microsoft.Compute(c.b));
        });

    [Property(MaxTest = 300)]
    public Property Compute_ShortKeyPadded_EqualsZeroExtendedKey() => Prop.ForAll(
        Arb.From(from keyLength in Gen.Choose(0, 40)
                 from key in Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), keyLength)
                 from input in Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>(), 36)
                 select (key, input)),
        c =>
        {
            var zeroExtended = new byte[40];
            c.key.CopyTo(zeroExtended, 0);
            return new ToeplitzHash(c.key, 36).Compute(c.input) == ToeplitzHash.ComputeBitwise(zeroExtended, c.input);
        });

    [Fact]
    public void Compute_InputLongerThanKeyAllows_Throws()
    {
        Assert.Equal(36, Microsoft.MaxInputLength);
        Assert.Throws<ArgumentOutOfRangeException>(() => Microsoft.Compute(new byte[37]));
    }

    [Fact]
    public void Constructor_KeyShorterThanFiveBytes_Throws()
    {
        Assert.Throws<ArgumentException>(() => new ToeplitzHash(new byte[4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ToeplitzHash(new byte[4], 0));
        Assert.Throws<ArgumentException>(() => ToeplitzHash.ComputeBitwise(new byte[7], new byte[4]));
    }

    [Fact]
    public void Compute_EmptyInput_IsZero()
    {
        Assert.Equal(0u, Microsoft.Compute(ReadOnlySpan<byte>.Empty));
    }
}
