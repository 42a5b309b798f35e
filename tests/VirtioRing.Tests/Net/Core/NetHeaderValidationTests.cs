using System;
using FsCheck.Xunit;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Net.Core;

public class NetHeaderValidationTests
{
    private const NetFeatures Offloads = NetFeatures.Version1 | NetFeatures.Csum | NetFeatures.HostTso4 | NetFeatures.HostTso6 |
        NetFeatures.HostUfo | NetFeatures.HostUso | NetFeatures.HostEcn;

    private static VirtioNetHeader Tso4(ushort start = 34, ushort offset = 16) => new()
    {
        Flags = NetHeaderFlags.NeedsChecksum,
        GsoType = NetGsoType.TcpV4,
        HeaderLength = 54,
        GsoSize = 1448,
        ChecksumStart = start,
        ChecksumOffset = offset,
    };

    [Fact]
    public void ValidateTransmit_PlainFrame_None() =>
        Assert.Equal(NetHeaderError.None, default(VirtioNetHeader).ValidateTransmit(NetFeatures.Version1, 60));

    [Fact]
    public void ValidateTransmit_GoodTso4_None() =>
        Assert.Equal(NetHeaderError.None, Tso4().ValidateTransmit(Offloads, 65000));

    [Theory]
    [InlineData(NetGsoType.TcpV4, NetFeatures.HostTso4)]
    [InlineData(NetGsoType.TcpV6, NetFeatures.HostTso6)]
    [InlineData(NetGsoType.Udp, NetFeatures.HostUfo)]
    [InlineData(NetGsoType.UdpL4, NetFeatures.HostUso)]
    public void ValidateTransmit_GsoTypeWithoutItsFeature_GsoTypeNotNegotiated(NetGsoType type, NetFeatures feature)
    {
        VirtioNetHeader h = Tso4();
        h.GsoType = type;
        Assert.Equal(NetHeaderError.GsoTypeNotNegotiated, h.ValidateTransmit(Offloads & ~feature, 9000));
        Assert.Equal(NetHeaderError.None, h.ValidateTransmit(NetFeatures.Csum | feature, 9000));
    }

    [Theory]
    [InlineData((byte)2)]
    [InlineData((byte)6)]
    [InlineData((byte)0x1F)]
    public void ValidateTransmit_UndefinedGsoType_UnknownGsoType(byte type)
    {
        VirtioNetHeader h = Tso4();
        h.GsoType = (NetGsoType)type;
        Assert.Equal(NetHeaderError.UnknownGsoType, h.ValidateTransmit(Offloads, 9000));
    }

    [Fact]
    public void ValidateTransmit_EcnBit_NeedsHostEcnAndAGsoType()
    {
        VirtioNetHeader h = Tso4();
        h.GsoType = NetGsoType.TcpV4 | NetGsoType.Ecn;
        Assert.Equal(NetHeaderError.None, h.ValidateTransmit(Offloads, 9000));
        Assert.Equal(NetHeaderError.EcnNotNegotiated, h.ValidateTransmit(Offloads & ~NetFeatures.HostEcn, 9000));
        h.GsoType = NetGsoType.Ecn;
        Assert.Equal(NetHeaderError.UnknownGsoType, h.ValidateTransmit(Offloads, 9000));
    }

    [Fact]
    public void ValidateTransmit_TunnelBitsOrFlag_TunnelNotNegotiated()
    {
        VirtioNetHeader h = Tso4();
        h.GsoType = NetGsoType.TcpV4 | NetGsoType.UdpTunnelIPv4;
        Assert.Equal(NetHeaderError.TunnelNotNegotiated, h.ValidateTransmit(Offloads, 9000));
        h = Tso4();
        h.Flags |= NetHeaderFlags.UdpTunnelChecksum;
        Assert.Equal(NetHeaderError.TunnelNotNegotiated, h.ValidateTransmit(Offloads, 9000));
    }

    [Fact]
    public void ValidateTransmit_NeedsCsumWithoutCsum_ChecksumNotNegotiated()
    {
        var h = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = 34, ChecksumOffset = 16 };
        Assert.Equal(NetHeaderError.ChecksumNotNegotiated, h.ValidateTransmit(NetFeatures.Version1, 100));
        Assert.Equal(NetHeaderError.None, h.ValidateTransmit(NetFeatures.Csum, 100));
    }

    [Fact]
    public void ValidateTransmit_GsoWithoutNeedsCsum_GsoWithoutChecksum()
    {
        VirtioNetHeader h = Tso4();
        h.Flags = NetHeaderFlags.None;
        Assert.Equal(NetHeaderError.GsoWithoutChecksum, h.ValidateTransmit(Offloads, 9000));
    }

    [Theory]
    [InlineData(34, 16, 52, NetHeaderError.None)]                    // checksum field ends exactly at the frame end
    [InlineData(34, 16, 51, NetHeaderError.ChecksumOutsideFrame)]
    [InlineData(65535, 65535, 60, NetHeaderError.ChecksumOutsideFrame)] // DPDK CVE-2024-11614: start past the frame, no wrap
    [InlineData(0, 65535, 65536, NetHeaderError.ChecksumOutsideFrame)]
    public void ValidateTransmit_ChecksumPosition_InsideFrameOnly(int start, int offset, int frameLength, NetHeaderError expected)
    {
        var h = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = (ushort)start, ChecksumOffset = (ushort)offset };
        Assert.Equal(expected, h.ValidateTransmit(NetFeatures.Csum, frameLength));
    }

    [Fact]
    public void ValidateTransmit_GsoSizeZero_BadGsoSize()
    {
        VirtioNetHeader h = Tso4();
        h.GsoSize = 0;
        Assert.Equal(NetHeaderError.BadGsoSize, h.ValidateTransmit(Offloads, 9000));
    }

    [Fact]
    public void ValidateTransmit_HdrLenPastFrame_BadHeaderLength()
    {
        VirtioNetHeader h = Tso4();
        h.HeaderLength = 200;
        Assert.Equal(NetHeaderError.BadHeaderLength, h.ValidateTransmit(Offloads, 199));
        Assert.Equal(NetHeaderError.None, h.ValidateTransmit(Offloads, 200));
    }

    [Fact]
    public void ValidateTransmit_GuestHdrLenShorterThanChecksumField_BadHeaderLength()
    {
        VirtioNetHeader h = Tso4();
        h.HeaderLength = 40;   // csum field at 34+16 = 50..52
        Assert.Equal(NetHeaderError.None, h.ValidateTransmit(Offloads, 9000));   // only a hint
        Assert.Equal(NetHeaderError.BadHeaderLength, h.ValidateTransmit(Offloads | NetFeatures.GuestHdrLen, 9000));
    }

    [Fact]
    public void ValidateTransmit_NonGsoHdrLenHint_Ignored()
    {
        var h = new VirtioNetHeader { HeaderLength = 60000 };
        Assert.Equal(NetHeaderError.None, h.ValidateTransmit(NetFeatures.Version1, 60));
    }

    [Fact]
    public void ValidateTransmit_DriverSetsDataValid_Ignored()
    {
        var h = new VirtioNetHeader { Flags = NetHeaderFlags.DataValid | NetHeaderFlags.RscInfo | (NetHeaderFlags)0x40 };
        Assert.Equal(NetHeaderError.None, h.ValidateTransmit(NetFeatures.Version1, 60));
    }

    [Property(MaxTest = 1000)]
    public void ValidateTransmit_AnyHeader_NeverThrowsAndAcceptedChecksumIsInside(
        byte flags, byte gso, ushort hdrLen, ushort gsoSize, ushort start, ushort offset, ulong features, ushort frameLength)
    {
        var h = new VirtioNetHeader
        {
            Flags = (NetHeaderFlags)flags,
            GsoType = (NetGsoType)gso,
            HeaderLength = hdrLen,
            GsoSize = gsoSize,
            ChecksumStart = start,
            ChecksumOffset = offset,
        };
        NetHeaderError e = h.ValidateTransmit((NetFeatures)features, frameLength);
        if (e == NetHeaderError.None && (h.Flags & NetHeaderFlags.NeedsChecksum) != 0)
        {
            Assert.True(start + offset + 2 <= frameLength);
        }

        if (e == NetHeaderError.None && (gso & 0x7F) != 0)
        {
            Assert.True(gsoSize > 0 && hdrLen <= frameLength);
        }
    }

    [Theory]
    [InlineData(QueueKind.Split, 1)]
    [InlineData(QueueKind.Split, 5)]
    [InlineData(QueueKind.Split, 11)]
    [InlineData(QueueKind.Packed, 3)]
    [InlineData(QueueKind.Packed, 19)]
    public void TryReadFromChain_HeaderSplitAcrossDescriptors_Gathered(QueueKind kind, int split)
    {
        // DPDK CVE-2022-2132: the header straddles descriptors; it must be read whole, not crash.
        using QueuePair pair = QueuePairFactory.Create(kind, 64, VirtqueueFeatures.None);
        var header = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, GsoType = NetGsoType.TcpV6, HeaderLength = 74, GsoSize = 1440, ChecksumStart = 54, ChecksumOffset = 16, HashValue = 0xAABBCCDD };
        var bytes = new byte[20 + 100];
        header.Write(bytes, NetHeaderLayout.ModernHashReport);
        DescriptorChain chain = AddReadableChain(pair, bytes, split, 7);

        Assert.Equal(NetHeaderError.None, VirtioNetHeader.TryReadFromChain(chain, NetHeaderLayout.ModernHashReport, out VirtioNetHeader read));
        Assert.Equal(header, read);
        Assert.Equal(NetHeaderError.None, VirtioNetHeader.ReadTransmit(chain, NetHeaderLayout.ModernHashReport, Offloads, out _, out int frameLength));
        Assert.Equal(100, frameLength);
        pair.Device.PushUsed(chain, 0);
        Assert.True(pair.GuardedMemory.GuardsIntact());
    }

    [Theory]
    [InlineData(QueueKind.Split, 11)]
    [InlineData(QueueKind.Split, 1)]
    [InlineData(QueueKind.Packed, 6)]
    public void TryReadFromChain_ChainShorterThanHeader_TooShort(QueueKind kind, int length)
    {
        using QueuePair pair = QueuePairFactory.Create(kind, 16, VirtqueueFeatures.None);
        DescriptorChain chain = AddReadableChain(pair, new byte[length], Math.Max(1, length / 2), 0);
        Assert.Equal(NetHeaderError.TooShort, VirtioNetHeader.TryReadFromChain(chain, NetHeaderLayout.Modern, out VirtioNetHeader h));
        Assert.Equal(default, h);
        Assert.Equal(NetHeaderError.TooShort, VirtioNetHeader.ReadTransmit(chain, NetHeaderLayout.Modern, Offloads, out _, out int frameLength));
        Assert.Equal(0, frameLength);
    }

    [Fact]
    public void TryReadFromChain_WritableOnlyChain_TooShort()
    {
        using QueuePair pair = QueuePairFactory.Create(QueueKind.Split, 16, VirtqueueFeatures.None);
        GuestAddress a = pair.Buffers.Rent();
        Assert.True(pair.Driver.TryAddChain([BufferSegment.Writable(a, 64)], 1));
        pair.Driver.PublishAvailable();
        Assert.Equal(PopStatus.Popped, pair.Device.TryPopAvailable(out DescriptorChain chain));
        Assert.Equal(NetHeaderError.TooShort, VirtioNetHeader.TryReadFromChain(chain, NetHeaderLayout.Legacy, out _));
    }

    [Fact]
    public void ReadTransmit_CsumStartPastChainEnd_ChecksumOutsideFrame()
    {
        using QueuePair pair = QueuePairFactory.Create(QueueKind.Packed, 16, VirtqueueFeatures.IndirectDescriptors);
        var bytes = new byte[12 + 60];
        new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = 50, ChecksumOffset = 16 }.Write(bytes, NetHeaderLayout.Modern);
        DescriptorChain chain = AddReadableChain(pair, bytes, 12, 0);
        Assert.Equal(NetHeaderError.ChecksumOutsideFrame, VirtioNetHeader.ReadTransmit(chain, NetHeaderLayout.Modern, Offloads, out _, out int frameLength));
        Assert.Equal(60, frameLength);
    }

    /// <summary>Adds (driver side) and pops (device side) a chain whose readable bytes are <paramref name="bytes"/>, cut at <paramref name="split"/> and in segments of <paramref name="tailSegment"/> after that.</summary>
    private static DescriptorChain AddReadableChain(QueuePair pair, byte[] bytes, int split, int tailSegment)
    {
        var segments = new System.Collections.Generic.List<BufferSegment>();
        int at = 0;
        int cut = Math.Min(split, bytes.Length);
        while (at < bytes.Length)
        {
            int n = at == 0 ? cut : tailSegment == 0 ? bytes.Length - at : Math.Min(tailSegment, bytes.Length - at);
            GuestAddress a = pair.Buffers.Rent();
            pair.Memory.Write(a, bytes.AsSpan(at, n));
            segments.Add(BufferSegment.Readable(a, (uint)n));
            at += n;
        }

        Assert.True(pair.Driver.TryAddChain(segments.ToArray(), 1));
        pair.Driver.PublishAvailable();
        Assert.Equal(PopStatus.Popped, pair.Device.TryPopAvailable(out DescriptorChain chain));
        return chain;
    }
}
