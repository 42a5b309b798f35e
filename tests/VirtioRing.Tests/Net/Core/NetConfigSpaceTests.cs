using System;
using VirtioRing.Net;
using Xunit;

namespace VirtioRing.Tests.Net.Core;

public class NetConfigSpaceTests
{
    private static NetConfigSpace Sample()
    {
        var c = new NetConfigSpace
        {
            Status = NetLinkStatus.LinkUp | NetLinkStatus.Announce,
            MaxVirtqueuePairs = 0x0102,
            Mtu = 0x0304,
            Speed = 0x05060708,
            Duplex = NetDuplex.Full,
            RssMaxKeySize = 40,
            RssMaxIndirectionTableLength = 0x0A0B,
            SupportedHashTypes = 0x0C0D0E0F,
            SupportedTunnelTypes = 0x11121314,
        };
        c.SetMac([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        return c;
    }

    // struct virtio_net_config (virtio 1.3 §5.1.4): u8 mac[6]; le16 status; le16 max_virtqueue_pairs;
    // le16 mtu; le32 speed; u8 duplex; u8 rss_max_key_size; le16 rss_max_indirection_table_length;
    // le32 supported_hash_types; le32 supported_tunnel_types.
    private static readonly byte[] Golden =
    [
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // mac @0
        0x03, 0x00,                         // status @6
        0x02, 0x01,                         // max_virtqueue_pairs @8
        0x04, 0x03,                         // mtu @10
        0x08, 0x07, 0x06, 0x05,             // speed @12
        0x01,                               // duplex @16
        0x28,                               // rss_max_key_size @17
        0x0B, 0x0A,                         // rss_max_indirection_table_length @18
        0x0F, 0x0E, 0x0D, 0x0C,             // supported_hash_types @20
        0x14, 0x13, 0x12, 0x11,             // supported_tunnel_types @24
    ];

    [Fact]
    public void Offsets_MatchSpecStruct()
    {
        Assert.Equal(0, NetConfigSpace.MacOffset);
        Assert.Equal(6, NetConfigSpace.StatusOffset);
        Assert.Equal(8, NetConfigSpace.MaxVirtqueuePairsOffset);
        Assert.Equal(10, NetConfigSpace.MtuOffset);
        Assert.Equal(12, NetConfigSpace.SpeedOffset);
        Assert.Equal(16, NetConfigSpace.DuplexOffset);
        Assert.Equal(17, NetConfigSpace.RssMaxKeySizeOffset);
        Assert.Equal(18, NetConfigSpace.RssMaxIndirectionTableLengthOffset);
        Assert.Equal(20, NetConfigSpace.SupportedHashTypesOffset);
        Assert.Equal(24, NetConfigSpace.SupportedTunnelTypesOffset);
        Assert.Equal(28, NetConfigSpace.Size);
    }

    [Fact]
    public void Write_Sample_MatchesGoldenBytes()
    {
        var bytes = new byte[NetConfigSpace.Size];
        Sample().Write(bytes);
        Assert.Equal(Golden, bytes);
    }

    [Fact]
    public void Read_GoldenBytes_RoundTrips()
    {
        var c = new NetConfigSpace();
        c.Read(Golden);
        Assert.Equal(NetLinkStatus.LinkUp | NetLinkStatus.Announce, c.Status);
        Assert.Equal(0x0102, c.MaxVirtqueuePairs);
        Assert.Equal(0x05060708u, c.Speed);
        Assert.Equal(NetDuplex.Full, c.Duplex);
        Assert.Equal(new byte[] { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, c.Mac.ToArray());
        var again = new byte[NetConfigSpace.Size];
        c.Write(again);
        Assert.Equal(Golden, again);
    }

    [Fact]
    public void ReadAt_EveryOffsetAndSize_MatchesWholeStruct()
    {
        NetConfigSpace c = Sample();
        for (int offset = 0; offset <= NetConfigSpace.Size; offset++)
        {
            for (int size = 0; offset + size <= NetConfigSpace.Size; size++)
            {
                var part = new byte[size];
                Assert.True(c.ReadAt((uint)offset, part));
                Assert.Equal(Golden.AsSpan(offset, size).ToArray(), part);
            }
        }
    }

    [Theory]
    [InlineData(28u, 1)]
    [InlineData(27u, 2)]
    [InlineData(0u, 29)]
    [InlineData(uint.MaxValue, 4)]
    [InlineData(0xFFFF_FFFEu, 4)]
    public void ReadAtWriteAt_OutOfRange_FalseAndNothingChanged(uint offset, int size)
    {
        NetConfigSpace c = Sample();
        var part = new byte[size];
        part.AsSpan().Fill(0xAA);
        Assert.False(c.ReadAt(offset, part));
        Assert.All(part, b => Assert.Equal(0xAA, b));
        Assert.False(c.WriteAt(offset, part));
        var bytes = new byte[NetConfigSpace.Size];
        c.Write(bytes);
        Assert.Equal(Golden, bytes);
    }

    [Fact]
    public void ReadAt_BeyondFeatureLimit_False()
    {
        NetConfigSpace c = Sample();
        int limit = NetConfigSpace.SizeFor(NetFeatures.Mac | NetFeatures.Status | NetFeatures.Mq);
        Assert.Equal(10, limit);
        Assert.True(c.ReadAt(8, new byte[2], limit));
        Assert.False(c.ReadAt(10, new byte[2], limit));
        Assert.False(c.ReadAt(0, new byte[1], -1));
    }

    [Fact]
    public void WriteAt_PartOfAField_ReplacesThoseBytes()
    {
        NetConfigSpace c = Sample();
        Assert.True(c.WriteAt(13, [0xAA, 0xBB]));   // middle two bytes of speed
        Assert.Equal(0x05BBAA08u, c.Speed);
        Assert.True(c.WriteAt(4, [0x99, 0x88]));    // last two bytes of mac
        Assert.Equal(new byte[] { 0x52, 0x54, 0x00, 0x12, 0x99, 0x88 }, c.Mac.ToArray());
    }

    [Theory]
    [InlineData(NetFeatures.None, 6)]
    [InlineData(NetFeatures.Mac | NetFeatures.Status, 8)]
    [InlineData(NetFeatures.Mtu, 12)]
    [InlineData(NetFeatures.SpeedDuplex, 17)]
    [InlineData(NetFeatures.Rss, 24)]
    [InlineData(NetFeatures.HashReport, 24)]
    [InlineData(NetFeatures.HashTunnel, 28)]
    public void SizeFor_Features_EndOfLastField(NetFeatures features, int size) => Assert.Equal(size, NetConfigSpace.SizeFor(features));

    [Fact]
    public void IsLegacyDriverWritable_OnlyMac()
    {
        Assert.True(NetConfigSpace.IsLegacyDriverWritable(0, 6));
        Assert.True(NetConfigSpace.IsLegacyDriverWritable(5, 1));
        Assert.False(NetConfigSpace.IsLegacyDriverWritable(5, 2));
        Assert.False(NetConfigSpace.IsLegacyDriverWritable(6, 1));
    }

    [Fact]
    public void SetMac_WrongLength_Throws() => Assert.Throws<ArgumentException>(() => new NetConfigSpace().SetMac(new byte[5]));
}
