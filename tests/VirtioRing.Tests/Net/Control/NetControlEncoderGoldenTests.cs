using System;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Queues;
using Xunit;

namespace VirtioRing.Tests.Net.Control;

/// <summary>
/// Golden encodings: the bytes are built by hand from the structures of virtio 1.2/1.3 §5.1.6.5
/// (class byte, command byte, command-specific data little-endian), and each one is also accepted
/// by the device-side handler.
/// </summary>
public class NetControlEncoderGoldenTests
{
    private static void AssertGolden(string expectedHex, Func<byte[], int> write)
    {
        byte[] encoded = ControlRig.Encode(write);
        Assert.Equal(expectedHex, Convert.ToHexString(encoded));
        NetControlHandler handler = ControlRig.Handler();
        if (encoded[0] == 3)
        {
            handler.RequestAnnounce();
        }

        ControlResult result = ControlRig.Run(handler, encoded, out byte[] response);
        Assert.Equal(NetControlError.None, result.Error);
        Assert.Equal((byte)ControlAck.Ok, response[0]);
    }

    // §5.1.6.5.1: VIRTIO_NET_CTRL_RX = 0; PROMISC 0 .. NOBCAST 5; data is one byte 0/1.
    [Theory]
    [InlineData(NetRxMode.Promiscuous, true, "000001")]
    [InlineData(NetRxMode.AllMulticast, false, "000100")]
    [InlineData(NetRxMode.AllUnicast, true, "000201")]
    [InlineData(NetRxMode.NoMulticast, true, "000301")]
    [InlineData(NetRxMode.NoUnicast, false, "000400")]
    [InlineData(NetRxMode.NoBroadcast, true, "000501")]
    public void WriteRxMode_EachMode_MatchesSpecBytes(NetRxMode mode, bool on, string hex) =>
        AssertGolden(hex, b => NetControlEncoder.WriteRxMode(b, mode, on));

    // §5.1.6.5.2: VIRTIO_NET_CTRL_MAC = 1, TABLE_SET = 0: le32 entries + macs (unicast), le32 entries + macs (multicast).
    [Fact]
    public void WriteMacTable_OneUnicastTwoMulticast_MatchesSpecBytes() =>
        AssertGolden(
            "0100" + "01000000" + "525400AABBCC" + "02000000" + "01005E000001" + "333300000001",
            b => NetControlEncoder.WriteMacTable(b,
                new[] { MacAddress.Parse("52:54:00:aa:bb:cc") },
                new[] { MacAddress.Parse("01:00:5e:00:00:01"), MacAddress.Parse("33:33:00:00:00:01") }));

    [Fact]
    public void WriteMacTable_BothEmpty_IsTwoZeroCounts() =>
        AssertGolden("0100" + "00000000" + "00000000", b => NetControlEncoder.WriteMacTable(b, default, default));

    // §5.1.6.5.2: ADDR_SET = 1, the 6-byte address.
    [Fact]
    public void WriteMacAddress_MatchesSpecBytes() =>
        AssertGolden("0101" + "020000000001", b => NetControlEncoder.WriteMacAddress(b, MacAddress.Parse("02:00:00:00:00:01")));

    // §5.1.6.5.3: VIRTIO_NET_CTRL_VLAN = 2, ADD 0 / DEL 1, le16 vid.
    [Fact]
    public void WriteVlan_AddAndDelete_MatchSpecBytes()
    {
        AssertGolden("0200" + "6400", b => NetControlEncoder.WriteVlan(b, add: true, 100));
        AssertGolden("0201" + "FF0F", b => NetControlEncoder.WriteVlan(b, add: false, 4095));
    }

    // §5.1.6.5.4: VIRTIO_NET_CTRL_ANNOUNCE = 3, ACK = 0, no data.
    [Fact]
    public void WriteAnnounceAck_MatchesSpecBytes() => AssertGolden("0300", b => NetControlEncoder.WriteAnnounceAck(b));

    // §5.1.6.5.6: VIRTIO_NET_CTRL_MQ = 4, VQ_PAIRS_SET = 0, le16 virtqueue_pairs.
    [Fact]
    public void WriteQueuePairs_MatchesSpecBytes() => AssertGolden("0400" + "0300", b => NetControlEncoder.WriteQueuePairs(b, 3));

    // §5.1.6.5.7: RSS_CONFIG = 1: le32 hash_types, le16 mask, le16 unclassified, le16 table[mask+1], le16 max_tx_vq, u8 key length, key.
    [Fact]
    public void WriteRssConfig_MatchesSpecBytes() =>
        AssertGolden(
            "0401" + "03000000" + "0300" + "0100" + "0000" + "0100" + "0200" + "0300" + "0400" + "04" + "6D5A56DA",
            b => NetControlEncoder.WriteRssConfig(b, NetHashTypes.IPv4 | NetHashTypes.TcpV4, new ushort[] { 0, 1, 2, 3 }, 1, 4,
                new byte[] { 0x6d, 0x5a, 0x56, 0xda }));

    // §5.1.6.5.6.4: HASH_CONFIG = 2: le32 hash_types, le16 reserved[4], u8 key length, key.
    [Fact]
    public void WriteHashConfig_MatchesSpecBytes() =>
        AssertGolden(
            "0402" + "08000000" + "0000000000000000" + "02" + "6D5A",
            b => NetControlEncoder.WriteHashConfig(b, NetHashTypes.IPv6, new byte[] { 0x6d, 0x5a }));

    // §5.1.6.5.8: VIRTIO_NET_CTRL_GUEST_OFFLOADS = 5, SET = 0, le64 offloads (GUEST_CSUM bit 1, GUEST_TSO4 bit 7).
    [Fact]
    public void WriteGuestOffloads_MatchesSpecBytes() =>
        AssertGolden("0500" + "8200000000000000", b => NetControlEncoder.WriteGuestOffloads(b, NetFeatures.GuestCsum | NetFeatures.GuestTso4));

    // §5.1.6.5.9: VIRTIO_NET_CTRL_NOTF_COAL = 6; TX_SET 0 / RX_SET 1: le32 max_packets, le32 max_usecs.
    [Fact]
    public void WriteCoalescing_TxAndRx_MatchSpecBytes()
    {
        AssertGolden("0600" + "0F000000" + "0A000000", b => NetControlEncoder.WriteCoalescing(b, transmit: true, new NotificationCoalescing(15, 10)));
        AssertGolden("0601" + "20000000" + "40000000", b => NetControlEncoder.WriteCoalescing(b, transmit: false, new NotificationCoalescing(32, 64)));
    }

    // §5.1.6.5.9: VQ_SET 2: le16 vq_index, le16 reserved, virtio_net_ctrl_coal; VQ_GET 3: le16 vq_index, le16 reserved.
    [Fact]
    public void WriteQueueCoalescing_SetAndGet_MatchSpecBytes()
    {
        AssertGolden("0602" + "0100" + "0000" + "05000000" + "07000000",
            b => NetControlEncoder.WriteQueueCoalescingSet(b, 1, new NotificationCoalescing(5, 7)));
        AssertGolden("0603" + "0000" + "0000", b => NetControlEncoder.WriteQueueCoalescingGet(b, 0));
    }

    [Fact]
    public void ReadAck_OkErrUnknownAndUnwritten_OnlyZeroWrittenIsOk()
    {
        Assert.Equal(ControlAck.Ok, NetControlEncoder.ReadAck(new byte[] { 0 }, 1));
        Assert.Equal(ControlAck.Err, NetControlEncoder.ReadAck(new byte[] { 1 }, 1));
        Assert.Equal(ControlAck.Err, NetControlEncoder.ReadAck(new byte[] { 7 }, 1));
        Assert.Equal(ControlAck.Err, NetControlEncoder.ReadAck(new byte[] { 0 }, 0));
    }

    [Fact]
    public void TryReadQueueCoalescing_ShortOrErr_ReturnsFalse()
    {
        byte[] ok = Convert.FromHexString("00" + "05000000" + "07000000");
        Assert.True(NetControlEncoder.TryReadQueueCoalescing(ok, 9, out NotificationCoalescing c));
        Assert.Equal(new NotificationCoalescing(5, 7), c);
        Assert.False(NetControlEncoder.TryReadQueueCoalescing(ok, 1, out _));
        ok[0] = 1;
        Assert.False(NetControlEncoder.TryReadQueueCoalescing(ok, 9, out _));
    }

    [Fact]
    public void ToSegments_ReadableThenWritable()
    {
        var segments = new BufferSegment[2];
        Assert.Equal(2, NetControlEncoder.ToSegments(new GuestAddress(0x1000), 3, new GuestAddress(0x2000), 1, segments));
        Assert.Equal(BufferSegment.Readable(new GuestAddress(0x1000), 3), segments[0]);
        Assert.Equal(BufferSegment.Writable(new GuestAddress(0x2000), 1), segments[1]);
    }

    [Fact]
    public void Writers_CallerMisuse_Throw()
    {
        var small = new byte[2];
        Assert.Throws<ArgumentException>(() => NetControlEncoder.WriteRxMode(new byte[8], NetRxMode.Promiscuous | NetRxMode.NoBroadcast, true));
        Assert.Throws<ArgumentException>(() => NetControlEncoder.WriteRxMode(new byte[8], NetRxMode.None, true));
        Assert.Throws<ArgumentException>(() => NetControlEncoder.WriteMacAddress(small, ControlRig.DeviceMac));
        Assert.Throws<ArgumentOutOfRangeException>(() => NetControlEncoder.WriteVlan(new byte[8], true, 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => NetControlEncoder.WriteQueuePairs(new byte[8], 0));
        Assert.Throws<ArgumentException>(() => NetControlEncoder.WriteRssConfig(new byte[64], NetHashTypes.None, new ushort[3], 0, 1, default));
        Assert.Throws<ArgumentException>(() => NetControlEncoder.WriteRssConfig(new byte[64], NetHashTypes.None, new ushort[] { 0x8000 }, 0, 1, default));
        Assert.Throws<ArgumentException>(() => NetControlEncoder.ToSegments(default, 2, default, 1, new BufferSegment[1]));
    }
}
