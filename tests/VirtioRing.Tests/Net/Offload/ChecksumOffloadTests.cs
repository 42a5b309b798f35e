using System;
using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Net.Offload;
using VirtioRing.Queues;
using VirtioRing.Tests.Queues.Split;
using Xunit;

namespace VirtioRing.Tests.Net.Offload;

public class ChecksumOffloadTests
{
    private static Arbitrary<PacketSpec> Specs() => Arb.From(
        from v6 in Gen.Elements(false, true)
        from tcp in Gen.Elements(false, true)
        from payload in Gen.OneOf(Gen.Choose(0, 64), Gen.Choose(0, 9000))
        from vlans in Gen.Choose(0, 2)
        from ipOptions in Gen.Choose(0, 3)
        from tcpOptions in Gen.Choose(0, 10)
        from hbh in Gen.Elements(0, 0, 8, 16)
        from seed in Gen.Choose(0, int.MaxValue)
        select new PacketSpec(v6, tcp, payload, vlans, v6 ? 0 : ipOptions, tcp ? tcpOptions : 0, IPv6HopByHopBytes: v6 ? hbh : 0, Seed: seed));

    private static (ushort Start, ushort Offset) CsumFields(PacketSpec s) =>
        ((ushort)Packets.L4Offset(s), s.Tcp ? (ushort)16 : (ushort)6);

    [Property(MaxTest = 1000)]
    public Property TryCompleteChecksum_PartialPacket_EqualsFullyChecksummedPacket() => Prop.ForAll(Specs(), s =>
    {
        byte[] expected = Packets.Build(s with { Fill = ChecksumFill.Full });
        byte[] frame = Packets.Build(s with { Fill = ChecksumFill.Partial });
        (ushort start, ushort offset) = CsumFields(s);
        Assert.Equal(OffloadError.None, ChecksumOffload.TryCompleteChecksum(frame, start, offset));
        Assert.Equal(expected, frame);
        Assert.True(ChecksumOffload.ValidateReceived(frame).IsDataValid);
    });

    [Property(MaxTest = 1000)]
    public Property TryComputeChecksum_RandomGatherSplits_EqualsSpanCompletion() => Prop.ForAll(Specs(), s =>
    {
        byte[] frame = Packets.Build(s with { Fill = ChecksumFill.Partial });
        (ushort start, ushort offset) = CsumFields(s);
        var random = new Random(s.Seed);
        int headerLength = random.Next(0, 21);
        var withHeader = new byte[headerLength + frame.Length];
        frame.CopyTo(withHeader, headerLength);
        var pieces = new Packets.ArraySegments(Packets.RandomSplit(withHeader, random));
        Assert.Equal(OffloadError.None, ChecksumOffload.TryComputeChecksum(pieces, headerLength, start, offset, out ushort checksum));
        Assert.Equal(OffloadError.None, ChecksumOffload.TryCompleteChecksum(frame, start, offset));
        Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(start + offset)), checksum);
    });

    [Theory]
    [InlineData(100, 98, 0, true)]     // field is the last two bytes
    [InlineData(100, 98, 1, false)]    // one byte past
    [InlineData(100, 99, 0, false)]
    [InlineData(100, 100, 0, false)]   // csum_start at the end
    [InlineData(100, 65535, 65535, false)]
    [InlineData(100, 0, 98, true)]
    [InlineData(100, 0, 99, false)]
    [InlineData(1, 0, 0, false)]
    [InlineData(0, 0, 0, false)]
    public void TryCompleteChecksum_Bounds_ChecksumFieldMustLieInsideFrame(int length, int start, int offset, bool ok)
    {
        // DPDK CVE-2024-11614: csum_start/csum_offset pointing past the frame must not write out of bounds.
        var memory = new byte[length + 64];
        memory.AsSpan().Fill(0xA5);
        Span<byte> frame = memory.AsSpan(32, length);
        OffloadError error = ChecksumOffload.TryCompleteChecksum(frame, (ushort)start, (ushort)offset);
        Assert.Equal(ok ? OffloadError.None : OffloadError.ChecksumOutOfFrame, error);
        Assert.All(memory.AsSpan(0, 32).ToArray(), b => Assert.Equal(0xA5, b));
        Assert.All(memory.AsSpan(32 + length).ToArray(), b => Assert.Equal(0xA5, b));
        if (!ok)
        {
            Assert.All(frame.ToArray(), b => Assert.Equal(0xA5, b));
        }
    }

    [Theory]
    [InlineData(98, 0, true)]
    [InlineData(98, 1, false)]
    [InlineData(200, 0, false)]
    public void TryComputeChecksum_GatherBounds_ChecksumFieldMustLieInsideFrame(int start, int offset, bool ok)
    {
        var pieces = new Packets.ArraySegments([new byte[11], new byte[50], new byte[51]]);   // 12-byte header, 100-byte frame
        OffloadError error = ChecksumOffload.TryComputeChecksum(pieces, 12, (ushort)start, (ushort)offset, out _);
        Assert.Equal(ok ? OffloadError.None : OffloadError.ChecksumOutOfFrame, error);
        Assert.Equal(OffloadError.TruncatedEthernetHeader, ChecksumOffload.TryComputeChecksum(pieces, 113, 0, 0, out _));
    }

    [Fact]
    public void TryCompleteChecksum_ResultZero_StoredAsFfff()
    {
        // Data summing to 0xFFFF with a zero field complements to 0: stored as 0xFFFF (Linux CSUM_MANGLED_0, RFC 768).
        byte[] frame = [0xFF, 0xFF, 0x00, 0x00];
        Assert.Equal(OffloadError.None, ChecksumOffload.TryCompleteChecksum(frame, 0, 2));
        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(2)));
        Assert.True(InternetChecksum.Verify(frame));
    }

    [Fact]
    public void TryComputeChecksum_DescriptorChainWithOddSegments_MatchesSpanCompletion()
    {
        byte[] frame = Packets.Build(new PacketSpec(IPv6: false, Tcp: true, PayloadLength: 1000, Fill: ChecksumFill.Partial));
        const int headerLength = 12;
        var whole = new byte[headerLength + frame.Length];
        frame.CopyTo(whole, headerLength);
        int[] cuts = [0, 7, 45, 46, 301, whole.Length];
        using var pair = new SplitPair(16, VirtqueueFeatures.None);
        var segments = new BufferSegment[cuts.Length - 1];
        for (int i = 0; i < segments.Length; i++)
        {
            int n = cuts[i + 1] - cuts[i];
            whole.AsSpan(cuts[i], n).CopyTo(pair.Memory.GetSpan(SplitPair.Data(i), (ulong)n));
            segments[i] = new BufferSegment(SplitPair.Data(i), (uint)n, isDeviceWritable: false);
        }

        pair.AddAndPublish(1, segments);
        DescriptorChain chain = pair.Pop();
        var spec = new PacketSpec(false, true, 1000);
        (ushort start, ushort offset) = CsumFields(spec);
        Assert.Equal(OffloadError.None, ChecksumOffload.TryComputeChecksum(chain, headerLength, start, offset, out ushort checksum));
        Assert.Equal(OffloadError.None, ChecksumOffload.TryCompleteChecksum(frame, start, offset));
        Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(start + offset)), checksum);
        Assert.Equal(OffloadError.ChecksumOutOfFrame, ChecksumOffload.TryComputeChecksum(chain, headerLength, (ushort)(frame.Length - 1), 0, out _));
    }

    [Property(MaxTest = 1000)]
    public Property ValidateReceived_FullPacket_ValidAndAnyFlippedByteDetected() => Prop.ForAll(Specs(), s =>
    {
        byte[] frame = Packets.Build(s);
        ReceiveChecksumResult ok = ChecksumOffload.ValidateReceived(frame);
        Assert.Equal(ReceiveChecksumStatus.Valid, ok.Status);
        Assert.Equal(Packets.L4Offset(s), ok.TransportOffset);
        Assert.Equal(s.Tcp ? 6 : 17, ok.Protocol);

        // Flip one bit in the transport header or payload: the L4 checksum no longer verifies.
        var random = new Random(s.Seed);
        int at = random.Next(Packets.L4Offset(s), frame.Length);
        frame[at] ^= (byte)(1 << random.Next(8));
        ReceiveChecksumResult bad = ChecksumOffload.ValidateReceived(frame);
        Assert.False(bad.IsDataValid);
    });

    [Fact]
    public void ValidateReceived_BadIPv4HeaderChecksum_Reported()
    {
        byte[] frame = Packets.Build(new PacketSpec(false, true, 100));
        frame[14 + 8] ^= 1;   // TTL
        Assert.Equal(ReceiveChecksumStatus.IPv4HeaderChecksumInvalid, ChecksumOffload.ValidateReceived(frame).Status);
    }

    [Fact]
    public void ValidateReceived_UdpZeroChecksum_AbsentOnIPv4InvalidOnIPv6()
    {
        ReceiveChecksumResult v4 = ChecksumOffload.ValidateReceived(Packets.Build(new PacketSpec(false, false, 33, Fill: ChecksumFill.Zero)));
        Assert.Equal(ReceiveChecksumStatus.UdpChecksumAbsent, v4.Status);
        Assert.True(v4.IsDataValid);
        ReceiveChecksumResult v6 = ChecksumOffload.ValidateReceived(Packets.Build(new PacketSpec(true, false, 33, Fill: ChecksumFill.Zero)));
        Assert.Equal(ReceiveChecksumStatus.TransportChecksumInvalid, v6.Status);
    }

    [Fact]
    public void ValidateReceived_EthernetPadding_Ignored()
    {
        byte[] frame = Packets.Build(new PacketSpec(false, false, 2));
        var padded = new byte[60];
        frame.CopyTo(padded, 0);
        padded[59] = 0x77;
        Assert.Equal(ReceiveChecksumStatus.Valid, ChecksumOffload.ValidateReceived(padded).Status);
    }

    [Fact]
    public void ValidateReceived_IPv4Fragment_NotCovered()
    {
        byte[] frame = Packets.Build(new PacketSpec(false, false, 100));
        frame[14 + 6] = 0x20;   // MF
        frame[14 + 10] = 0;
        frame[14 + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(24), InternetChecksum.Compute(frame.AsSpan(14, 20)));
        ReceiveChecksumResult r = ChecksumOffload.ValidateReceived(frame);
        Assert.Equal(ReceiveChecksumStatus.NotCovered, r.Status);
        Assert.False(r.IsDataValid);
    }

    [Fact]
    public void ValidateReceived_NotIP_NotCovered()
    {
        var arp = new byte[60];
        arp[12] = 0x08;
        arp[13] = 0x06;
        Assert.Equal(ReceiveChecksumStatus.NotCovered, ChecksumOffload.ValidateReceived(arp).Status);
    }

    [Fact]
    public void ValidateReceived_UdpLengthPastIPPayload_Malformed()
    {
        byte[] frame = Packets.Build(new PacketSpec(false, false, 10));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34 + 4), 19);
        ReceiveChecksumResult r = ChecksumOffload.ValidateReceived(frame);
        Assert.Equal(ReceiveChecksumStatus.Malformed, r.Status);
        Assert.Equal(OffloadError.BadIPLength, r.Error);
    }

    [Property(MaxTest = 1000)]
    public Property ValidateReceived_TruncatedOrArbitraryBytes_NeverThrows() => Prop.ForAll(Specs(), s =>
    {
        byte[] frame = Packets.Build(s);
        var random = new Random(s.Seed);
        // At most one byte short of the whole frame: with no payload the header is the whole frame.
        int cut = random.Next(0, Math.Min(frame.Length - 1, Packets.HeaderLength(s)) + 1);
        ReceiveChecksumResult truncated = ChecksumOffload.ValidateReceived(frame.AsSpan(0, cut));
        Assert.False(truncated.IsDataValid);
        for (int i = 0; i < 8; i++)
        {
            frame[random.Next(frame.Length)] = (byte)random.Next(256);
        }

        _ = ChecksumOffload.ValidateReceived(frame);
        var noise = new byte[random.Next(0, 200)];
        random.NextBytes(noise);
        _ = ChecksumOffload.ValidateReceived(noise);
    });
}
