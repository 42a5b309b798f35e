using System;
using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Net.Offload;
using Xunit;

namespace VirtioRing.Tests.Net.Offload;

public class InternetChecksumTests
{
    // RFC 1071 §3 numerical example: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
    private static readonly byte[] Rfc1071Example = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];

    // An IPv4 header with its checksum 0xb861 (the worked example of Wikipedia's "Internet checksum" / "IPv4 header
    // checksum" articles: 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7).
    private static readonly byte[] KnownIPv4Header =
    [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    [Fact]
    public void Sum_Rfc1071Example_IsDdf2()
    {
        Assert.Equal(0xddf2, InternetChecksum.Sum(Rfc1071Example));
        Assert.Equal(0x220d, InternetChecksum.Compute(Rfc1071Example));
    }

    [Fact]
    public void Compute_KnownIPv4HeaderWithFieldZeroed_IsB861()
    {
        byte[] header = (byte[])KnownIPv4Header.Clone();
        header[10] = 0;
        header[11] = 0;
        Assert.Equal(0xb861, InternetChecksum.Compute(header));
        Assert.True(InternetChecksum.Verify(KnownIPv4Header));
    }

    [Fact]
    public void Verify_KnownIPv4HeaderOneBitFlipped_IsFalse()
    {
        byte[] header = (byte[])KnownIPv4Header.Clone();
        header[15] ^= 0x10;
        Assert.False(InternetChecksum.Verify(header));
    }

    [Fact]
    public void Sum_OddLength_PadsLastByteWithZero()
    {
        Assert.Equal(0xab00, InternetChecksum.Sum([0xab]));
        Assert.Equal(0x0102 + 0x0300, InternetChecksum.Sum([0x01, 0x02, 0x03]));
        Assert.Equal(0, InternetChecksum.Sum([]));
    }

    [Fact]
    public void Sum_AllOnes_IsFfff()
    {
        var data = new byte[65536];
        data.AsSpan().Fill(0xFF);
        Assert.Equal(0xFFFF, InternetChecksum.Sum(data));
    }

    [Fact]
    public void Sum_WithInitial_AddsInitial()
    {
        Assert.Equal(InternetChecksum.Add(0xddf2, 0x1234), InternetChecksum.Sum(Rfc1071Example, 0x1234));
    }

    [Fact]
    public void Add_OddOffsetPiece_SwapsItsSum()
    {
        // 00 01 f2 | 03 f4 f5 f6 f7: the second piece starts at offset 3.
        ushort whole = InternetChecksum.Sum(Rfc1071Example);
        ushort a = InternetChecksum.Sum(Rfc1071Example.AsSpan(0, 3));
        ushort b = InternetChecksum.Sum(Rfc1071Example.AsSpan(3));
        Assert.Equal(whole, InternetChecksum.Add(a, b, 3));
    }

    [Fact]
    public void PseudoHeaderSumIPv4_KnownAddresses_MatchesBytes()
    {
        ReadOnlySpan<byte> src = [192, 168, 0, 1];
        ReadOnlySpan<byte> dst = [192, 168, 0, 199];
        byte[] frame = new byte[34];
        src.CopyTo(frame.AsSpan(26));
        dst.CopyTo(frame.AsSpan(30));
        Assert.Equal(Packets.NaivePseudo(frame, 14, false, 17, 0x5f), InternetChecksum.PseudoHeaderSumIPv4(src, dst, 17, 0x5f));
    }

    [Fact]
    public void PseudoHeaderSumIPv6_LargeLength_MatchesBytes()
    {
        var random = new Random(7);
        byte[] frame = new byte[54];
        random.NextBytes(frame);
        ushort expected = Packets.NaivePseudo(frame, 14, true, 6, 0x12345);
        Assert.Equal(expected, InternetChecksum.PseudoHeaderSumIPv6(frame.AsSpan(22, 16), frame.AsSpan(38, 16), 6, 0x12345));
    }

    [Fact]
    public void PseudoHeaderSumIPv4_WrongAddressLength_Throws()
    {
        Assert.Throws<ArgumentException>(() => InternetChecksum.PseudoHeaderSumIPv4(new byte[3], new byte[4], 6, 20));
        Assert.Throws<ArgumentException>(() => InternetChecksum.PseudoHeaderSumIPv6(new byte[16], new byte[4], 6, 20));
    }

    private static Arbitrary<(int Length, int Offset, int Seed)> DataCases() => Arb.From(
        from length in Gen.OneOf(Gen.Choose(0, 300), Gen.Choose(0, 5000), Gen.Choose(60000, 70000))
        from offset in Gen.Choose(0, 63)
        from seed in Gen.Choose(0, int.MaxValue)
        select (length, offset, seed));

    [Property(MaxTest = 1000)]
    public Property Sum_RandomLengthAndAlignment_MatchesNaive() => Prop.ForAll(DataCases(), c =>
    {
        var buffer = new byte[c.Offset + c.Length];
        new Random(c.Seed).NextBytes(buffer);
        ReadOnlySpan<byte> data = buffer.AsSpan(c.Offset);
        ushort expected = Packets.Naive(data);
        Assert.Equal(expected, InternetChecksum.Sum(data));
        Assert.Equal(expected, Fold(ChecksumKernels.SumScalar(data)));
        Assert.Equal(expected, Fold(ChecksumKernels.SumVector(data)));
        Assert.Equal(expected, Fold(InternetChecksum.SumVector256(data)));
        Assert.Equal(expected, Fold(InternetChecksum.SumVector128(data)));
    });

    [Property(MaxTest = 1000)]
    public Property Accumulator_RandomSplits_MatchesWhole() => Prop.ForAll(DataCases(), c =>
    {
        var data = new byte[c.Length];
        var random = new Random(c.Seed);
        random.NextBytes(data);
        var acc = new ChecksumAccumulator();
        ushort combined = 0;
        long offset = 0;
        foreach (byte[] piece in Packets.RandomSplit(data, random))
        {
            acc.Add(piece);
            combined = InternetChecksum.Add(combined, InternetChecksum.Sum(piece), offset);
            offset += piece.Length;
        }

        ushort expected = Packets.Naive(data);
        Assert.Equal(expected, acc.Sum);
        Assert.Equal((ushort)~expected, acc.Checksum);
        Assert.Equal(data.Length, acc.Length);
        Assert.Equal(expected, combined);
    });

    [Fact]
    public void Accumulator_AddSumAfterOddPiece_CountsAsWords()
    {
        var acc = new ChecksumAccumulator();
        acc.Add([0x12, 0x34, 0x56]);
        acc.AddSum(0x0102);
        acc.Add([0x78]);
        Assert.Equal(Packets.NaiveAdd(Packets.Naive([0x12, 0x34, 0x56, 0x78]), 0x0102), acc.Sum);
        acc.Reset();
        Assert.Equal(0, acc.Sum);
        Assert.Equal(0, acc.Length);
    }

    [Fact]
    public void Sum_AllKernelsAtEveryLengthUpTo300_MatchNaive()
    {
        var buffer = new byte[301];
        new Random(3).NextBytes(buffer);
        for (int offset = 0; offset < 2; offset++)
        {
            for (int n = 0; n <= 300; n++)
            {
                ReadOnlySpan<byte> data = buffer.AsSpan(offset, n);
                ushort expected = Packets.Naive(data);
                Assert.Equal(expected, InternetChecksum.Sum(data));
                Assert.Equal(expected, Fold(ChecksumKernels.SumVector(data)));
                Assert.Equal(expected, Fold(InternetChecksum.SumVector128(data)));
                Assert.Equal(expected, Fold(InternetChecksum.SumVector256(data)));
            }
        }
    }

    [Fact]
    public void Sum_LargeAllOnesBuffer_NoLaneOverflow()
    {
        // 64 MiB of 0xFF: the widest lane accumulation the kernels see in the tests.
        var data = new byte[64 << 20];
        data.AsSpan().Fill(0xFF);
        Assert.Equal(0xFFFF, InternetChecksum.Sum(data));
        Assert.Equal(0xFFFF, Fold(ChecksumKernels.SumScalar(data)));
        BinaryPrimitives.WriteUInt16BigEndian(data, 0x0001);
        Assert.Equal(Packets.Naive(data), InternetChecksum.Sum(data));
    }

    private static ushort Fold(ulong native) => ChecksumKernels.ToNetwork(ChecksumKernels.Fold(native));
}
