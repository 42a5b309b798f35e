using System;
using System.Linq;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using VirtioRing.Net.Multiqueue;
using Xunit;

namespace VirtioRing.Tests.Net.Control;

/// <summary>Encoder → handler round trips for every command, and refusals that must change nothing.</summary>
public class NetControlHandlerTests
{
    private static NetControlState Ok(NetControlHandler handler, Func<byte[], int> write, int responseLength = 1)
    {
        NetControlState before = handler.State;
        ControlResult result = ControlRig.Run(handler, write, responseLength);
        Assert.Equal(NetControlError.None, result.Error);
        Assert.Equal(ControlAck.Ok, result.Ack);
        Assert.Equal(1u, result.WrittenLength);
        Assert.True(result.StateChanged);
        Assert.Equal(before.Version + 1, handler.State.Version);
        return handler.State;
    }

    private static void Refused(NetControlHandler handler, byte[] command, NetControlError expected, int responseLength = 9)
    {
        NetControlState before = handler.State;
        ControlResult result = ControlRig.Run(handler, command, out byte[] response, responseLength);
        Assert.Equal(expected, result.Error);
        Assert.Equal(ControlAck.Err, result.Ack);
        Assert.Equal((byte)ControlAck.Err, response[0]);
        Assert.Equal(1u, result.WrittenLength);
        Assert.False(result.StateChanged);
        Assert.Same(before, handler.State);
    }

    [Fact]
    public void NewHandler_ResetState_MatchesSpecDefaults()
    {
        NetControlState s = ControlRig.Handler().State;
        Assert.Equal(NetRxMode.Promiscuous, s.RxMode);
        Assert.Equal(ControlRig.DeviceMac, s.PrimaryMac);
        Assert.Empty(s.UnicastFilter);
        Assert.Empty(s.MulticastFilter);
        Assert.Equal(0, s.CountVlans());
        Assert.Equal(1, s.ActiveQueuePairs);
        Assert.Equal(ReceiveSteering.Automatic, s.Steering);
        Assert.Null(s.Rss);
        Assert.Equal(NetHashTypes.None, s.HashTypes);
        Assert.Equal(NetFeatures.GuestCsum | NetFeatures.GuestTso4 | NetFeatures.GuestTso6, s.GuestOffloads);
        Assert.Equal(default, s.TxCoalescing);
        Assert.False(s.AnnouncePending);
        Assert.Equal(0ul, s.Version);
    }

    [Theory]
    [InlineData(NetRxMode.Promiscuous)]
    [InlineData(NetRxMode.AllMulticast)]
    [InlineData(NetRxMode.AllUnicast)]
    [InlineData(NetRxMode.NoMulticast)]
    [InlineData(NetRxMode.NoUnicast)]
    [InlineData(NetRxMode.NoBroadcast)]
    public void RxMode_OnThenOff_TogglesOnlyThatFlag(NetRxMode mode)
    {
        NetControlHandler h = ControlRig.Handler();
        NetRxMode start = h.State.RxMode;
        Assert.Equal(start | mode, Ok(h, b => NetControlEncoder.WriteRxMode(b, mode, true)).RxMode);
        Assert.Equal(start & ~mode, Ok(h, b => NetControlEncoder.WriteRxMode(b, mode, false)).RxMode);
    }

    [Fact]
    public void MacTableSet_Tables_AreKeptSortedAndDistinct()
    {
        NetControlHandler h = ControlRig.Handler();
        MacAddress a = MacAddress.Parse("02:00:00:00:00:02"), b = MacAddress.Parse("02:00:00:00:00:01");
        MacAddress m = MacAddress.Parse("01:00:5e:00:00:fb");
        NetControlState s = Ok(h, buf => NetControlEncoder.WriteMacTable(buf, new[] { a, b, a }, new[] { m }));
        Assert.Equal(new[] { b, a }, s.UnicastFilter.ToArray());
        Assert.Equal(new[] { m }, s.MulticastFilter.ToArray());
        Assert.False(s.UnicastFilter.IsOverflow);
    }

    [Fact]
    public void MacTableSet_MoreThanKept_OverflowsThatTableOnly()
    {
        NetControlHandler h = ControlRig.Handler(macEntries: 2);
        MacAddress[] many = Enumerable.Range(1, 3).Select(i => new MacAddress(0x020000000000UL + (ulong)i)).ToArray();
        NetControlState s = Ok(h, buf => NetControlEncoder.WriteMacTable(buf, many, new[] { MacAddress.Parse("01:00:5e:00:00:01") }));
        Assert.True(s.UnicastFilter.IsOverflow);
        Assert.Empty(s.UnicastFilter);
        Assert.False(s.MulticastFilter.IsOverflow);
        Assert.Single(s.MulticastFilter);
    }

    [Fact]
    public void MacAddressSet_ChangesPrimary()
    {
        NetControlHandler h = ControlRig.Handler();
        MacAddress mac = MacAddress.Parse("02:aa:bb:cc:dd:ee");
        Assert.Equal(mac, Ok(h, b => NetControlEncoder.WriteMacAddress(b, mac)).PrimaryMac);
    }

    [Fact]
    public void MacAddressSet_WithOnlyCtrlMacAddr_IsAccepted()
    {
        NetControlHandler h = ControlRig.Handler(NetFeatures.CtrlVq | NetFeatures.CtrlMacAddr);
        Ok(h, b => NetControlEncoder.WriteMacAddress(b, ControlRig.DeviceMac));
        Refused(h, ControlRig.Encode(b => NetControlEncoder.WriteMacTable(b, default, default)), NetControlError.FeatureNotNegotiated);
    }

    [Fact]
    public void Vlan_AddThenDelete_UpdatesBitmap()
    {
        NetControlHandler h = ControlRig.Handler();
        Assert.True(Ok(h, b => NetControlEncoder.WriteVlan(b, true, 4095)).ContainsVlan(4095));
        NetControlState s = Ok(h, b => NetControlEncoder.WriteVlan(b, true, 7));
        Assert.Equal(2, s.CountVlans());
        s = Ok(h, b => NetControlEncoder.WriteVlan(b, false, 4095));
        Assert.False(s.ContainsVlan(4095));
        Assert.True(s.ContainsVlan(7));
    }

    [Fact]
    public void AnnounceAck_AfterRequest_ClearsPending_AndWithoutRequest_IsRefused()
    {
        NetControlHandler h = ControlRig.Handler();
        byte[] ack = ControlRig.Encode(b => NetControlEncoder.WriteAnnounceAck(b));
        Refused(h, ack, NetControlError.InvalidState);
        Assert.True(h.RequestAnnounce());
        Assert.True(h.State.AnnouncePending);
        Assert.False(Ok(h, b => NetControlEncoder.WriteAnnounceAck(b)).AnnouncePending);
    }

    [Fact]
    public void RequestAnnounce_WithoutGuestAnnounce_ReturnsFalse() =>
        Assert.False(ControlRig.Handler(NetFeatures.CtrlVq | NetFeatures.CtrlRx).RequestAnnounce());

    [Fact]
    public void QueuePairsSet_WithinRange_SetsActivePairs_AndLeavesRss()
    {
        NetControlHandler h = ControlRig.Handler(maxPairs: 4);
        Ok(h, b => NetControlEncoder.WriteRssConfig(b, NetHashTypes.IPv4, new ushort[] { 0, 1 }, 0, 2, new byte[40]));
        NetControlState s = Ok(h, b => NetControlEncoder.WriteQueuePairs(b, 4));
        Assert.Equal(4, s.ActiveQueuePairs);
        Assert.Equal(ReceiveSteering.Automatic, s.Steering);
        Assert.Null(s.Rss);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(0x8000)]
    [InlineData(0xFFFF)]
    public void QueuePairsSet_OutOfRange_IsRefused(int pairs) =>
        Refused(ControlRig.Handler(maxPairs: 4), ControlRig.Bytes(4, 0, pairs & 0xFF, pairs >> 8), NetControlError.InvalidValue);

    [Fact]
    public void RssConfig_Valid_InstallsConfiguration()
    {
        NetControlHandler h = ControlRig.Handler(maxPairs: 4);
        byte[] key = Enumerable.Range(1, 40).Select(i => (byte)i).ToArray();
        NetControlState s = Ok(h, b => NetControlEncoder.WriteRssConfig(b, NetHashTypes.TcpV4 | NetHashTypes.IPv4,
            new ushort[] { 3, 2, 1, 0, 0, 1, 2, 3 }, 2, 3, key));
        Assert.Equal(ReceiveSteering.Rss, s.Steering);
        Assert.NotNull(s.Rss);
        Assert.Equal(new ushort[] { 3, 2, 1, 0, 0, 1, 2, 3 }, s.Rss!.IndirectionTable.ToArray());
        Assert.Equal((ushort)2, s.Rss.UnclassifiedQueue);
        Assert.Equal(key, s.Rss.Key.ToArray());
        Assert.Equal(NetHashTypes.TcpV4 | NetHashTypes.IPv4, s.HashTypes);
        Assert.Equal(3, s.ActiveQueuePairs);
    }

    [Fact]
    public void RssConfig_EachInvalidField_IsRefusedAndChangesNothing()
    {
        byte[] key = new byte[40];
        Func<byte[], int> Rss(NetHashTypes types, ushort[] table, ushort unclassified, ushort maxTx, byte[] k) =>
            b => NetControlEncoder.WriteRssConfig(b, types, table, unclassified, maxTx, k);

        NetControlHandler h = ControlRig.Handler(maxPairs: 4);
        Refused(h, ControlRig.Encode(Rss(NetHashTypes.UdpV6, new ushort[] { 0 }, 0, 1, key)), NetControlError.InvalidValue); // unsupported type
        Refused(h, ControlRig.Encode(Rss(NetHashTypes.IPv4, new ushort[] { 0, 4 }, 0, 1, key)), NetControlError.InvalidValue); // queue ≥ max
        Refused(h, ControlRig.Encode(Rss(NetHashTypes.IPv4, new ushort[] { 0 }, 4, 1, key)), NetControlError.InvalidValue); // unclassified ≥ max
        Refused(h, ControlRig.Encode(Rss(NetHashTypes.IPv4, new ushort[] { 0 }, 0, 0, key)), NetControlError.InvalidValue); // max_tx_vq 0
        Refused(h, ControlRig.Encode(Rss(NetHashTypes.IPv4, new ushort[] { 0 }, 0, 5, key)), NetControlError.InvalidValue); // max_tx_vq > max
        Refused(h, ControlRig.Encode(Rss(NetHashTypes.IPv4, new ushort[] { 0 }, 0, 1, new byte[41])), NetControlError.InvalidValue); // key too long
        Refused(h, ControlRig.Encode(Rss(NetHashTypes.IPv4, new ushort[] { 0 }, 0, 1, Array.Empty<byte>())), NetControlError.InvalidValue); // no key
        Refused(h, ControlRig.Encode(Rss(NetHashTypes.IPv4, new ushort[256], 0, 1, key)), NetControlError.InvalidValue); // table > 128

        byte[] good = ControlRig.Encode(Rss(NetHashTypes.IPv4, new ushort[] { 0, 1 }, 0, 1, key));
        byte[] badMask = (byte[])good.Clone();
        badMask[6] = 2; // mask 2: three entries, not a power of two
        Refused(h, badMask, NetControlError.InvalidValue);
        Refused(h, good.AsSpan(0, good.Length - 1).ToArray(), NetControlError.BadLength);
        Refused(h, good.Concat(new byte[] { 0 }).ToArray(), NetControlError.BadLength);
    }

    [Fact]
    public void HashConfig_Valid_SetsHashTypesAndKey_AndLeavesRss()
    {
        NetControlHandler h = ControlRig.Handler();
        Ok(h, b => NetControlEncoder.WriteRssConfig(b, NetHashTypes.IPv4, new ushort[] { 0 }, 0, 2, new byte[40]));
        NetControlState s = Ok(h, b => NetControlEncoder.WriteHashConfig(b, NetHashTypes.TcpV6, new byte[] { 1, 2, 3 }));
        Assert.Equal(ReceiveSteering.Automatic, s.Steering);
        Assert.Equal(NetHashTypes.TcpV6, s.HashTypes);
        Assert.Equal(new byte[] { 1, 2, 3 }, s.HashKey.ToArray());
        Assert.Equal(2, s.ActiveQueuePairs);
    }

    [Fact]
    public void HashConfig_NonZeroReserved_IsIgnored()
    {
        // Linux sends its RSS structure for HASH_CONFIG, so the reserved words may hold its mask and max_tx_vq.
        NetControlHandler h = ControlRig.Handler();
        byte[] cmd = ControlRig.Encode(b => NetControlEncoder.WriteHashConfig(b, NetHashTypes.IPv4, new byte[40]));
        cmd[2 + 4 + 6] = 1;
        Assert.Equal(ControlAck.Ok, ControlRig.Run(h, cmd, out _).Ack);
    }

    [Fact]
    public void GuestOffloads_SubsetOfNegotiated_IsApplied_OtherBitsRefused()
    {
        NetControlHandler h = ControlRig.Handler();
        Assert.Equal(NetFeatures.GuestCsum, Ok(h, b => NetControlEncoder.WriteGuestOffloads(b, NetFeatures.GuestCsum)).GuestOffloads);
        Assert.Equal(NetFeatures.None, Ok(h, b => NetControlEncoder.WriteGuestOffloads(b, NetFeatures.None)).GuestOffloads);
        Refused(h, ControlRig.Encode(b => NetControlEncoder.WriteGuestOffloads(b, NetFeatures.GuestUfo)), NetControlError.InvalidValue);
        Refused(h, ControlRig.Encode(b => NetControlEncoder.WriteGuestOffloads(b, NetFeatures.Mq)), NetControlError.InvalidValue);
    }

    [Fact]
    public void Coalescing_ClassSetThenQueueSetThenGet_FollowsSpecExample()
    {
        // §5.1.6.5.9 command sequence, with two pairs of virtqueues.
        NetControlHandler h = ControlRig.Handler(maxPairs: 2);
        Ok(h, b => NetControlEncoder.WriteQueuePairs(b, 2));
        Ok(h, b => NetControlEncoder.WriteCoalescing(b, transmit: false, new NotificationCoalescing(10, 100)));  // 1: RX_SET → vq 0, 2
        Ok(h, b => NetControlEncoder.WriteQueueCoalescingSet(b, 0, new NotificationCoalescing(20, 200)));      // 2: vq 0
        Assert.Equal(new NotificationCoalescing(20, 200), Get(h, 0));                                          // 3
        Assert.Equal(new NotificationCoalescing(10, 100), h.State.GetQueueCoalescing(2));
        Ok(h, b => NetControlEncoder.WriteQueueCoalescingSet(b, 1, new NotificationCoalescing(30, 300)));      // 4: vq 1
        Ok(h, b => NetControlEncoder.WriteCoalescing(b, transmit: true, new NotificationCoalescing(40, 400)));  // 5: TX_SET → 1, 3
        Assert.Equal(new NotificationCoalescing(40, 400), Get(h, 1));                                          // 6
        Assert.Equal(new NotificationCoalescing(40, 400), h.State.GetQueueCoalescing(3));
    }

    [Fact]
    public void Coalescing_QueueNotEnabled_IsRefused_AndReEnabledQueueGetsClassDefault()
    {
        NetControlHandler h = ControlRig.Handler(maxPairs: 2);
        Refused(h, ControlRig.Encode(b => NetControlEncoder.WriteQueueCoalescingSet(b, 3, new NotificationCoalescing(1, 1))), NetControlError.InvalidValue);
        Refused(h, ControlRig.Encode(b => NetControlEncoder.WriteQueueCoalescingGet(b, 4)), NetControlError.InvalidValue); // the control queue
        Ok(h, b => NetControlEncoder.WriteQueuePairs(b, 2));
        Ok(h, b => NetControlEncoder.WriteCoalescing(b, transmit: true, new NotificationCoalescing(8, 8)));
        Ok(h, b => NetControlEncoder.WriteQueueCoalescingSet(b, 3, new NotificationCoalescing(1, 1)));
        Ok(h, b => NetControlEncoder.WriteQueuePairs(b, 1));
        Ok(h, b => NetControlEncoder.WriteQueuePairs(b, 2));
        Assert.Equal(new NotificationCoalescing(8, 8), Get(h, 3));
    }

    [Fact]
    public void CoalescingGet_ResponseTooSmall_IsRefused()
    {
        NetControlHandler h = ControlRig.Handler();
        Refused(h, ControlRig.Encode(b => NetControlEncoder.WriteQueueCoalescingGet(b, 0)), NetControlError.ResponseTooSmall, responseLength: 8);
    }

    [Fact]
    public void Handle_EmptyResponse_IsRefusedWithoutWriting()
    {
        NetControlHandler h = ControlRig.Handler();
        NetControlState before = h.State;
        ControlResult r = h.Handle(ControlRig.Encode(b => NetControlEncoder.WriteRxMode(b, NetRxMode.Promiscuous, false)), Span<byte>.Empty);
        Assert.Equal(NetControlError.NoWritableByte, r.Error);
        Assert.Equal(0u, r.WrittenLength);
        Assert.Same(before, h.State);
    }

    public static TheoryData<byte[], NetControlError> Malformed => new()
    {
        { ControlRig.Bytes(), NetControlError.Truncated },
        { ControlRig.Bytes(0), NetControlError.Truncated },
        { ControlRig.Bytes(7, 0), NetControlError.UnknownClass },
        { ControlRig.Bytes(0xFF, 0, 1), NetControlError.UnknownClass },
        { ControlRig.Bytes(0, 6, 1), NetControlError.UnknownCommand },
        { ControlRig.Bytes(1, 2), NetControlError.UnknownCommand },
        { ControlRig.Bytes(2, 2, 1, 0), NetControlError.UnknownCommand },
        { ControlRig.Bytes(3, 1), NetControlError.UnknownCommand },
        { ControlRig.Bytes(4, 3, 1, 0), NetControlError.UnknownCommand },
        { ControlRig.Bytes(5, 1, 0, 0, 0, 0, 0, 0, 0, 0), NetControlError.UnknownCommand },
        { ControlRig.Bytes(6, 4), NetControlError.UnknownCommand },
        { ControlRig.Bytes(0, 0), NetControlError.BadLength },
        { ControlRig.Bytes(0, 0, 1, 0), NetControlError.BadLength },
        { ControlRig.Bytes(0, 0, 2), NetControlError.InvalidValue },
        { ControlRig.Bytes(1, 1, 1, 2, 3, 4, 5), NetControlError.BadLength },
        { ControlRig.Bytes(1, 0, 1, 0, 0, 0), NetControlError.BadLength },
        { ControlRig.Bytes(1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9), NetControlError.BadLength },
        { ControlRig.Bytes(1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0), NetControlError.BadLength },
        { ControlRig.Bytes(2, 0, 0, 0x10), NetControlError.InvalidValue },
        { ControlRig.Bytes(2, 0, 1), NetControlError.BadLength },
        { ControlRig.Bytes(4, 0, 1), NetControlError.BadLength },
        { ControlRig.Bytes(4, 2, 1, 0, 0, 0), NetControlError.BadLength },
        { ControlRig.Bytes(5, 0, 2, 0, 0, 0, 0, 0, 0), NetControlError.BadLength },
        { ControlRig.Bytes(6, 0, 1, 0, 0, 0, 1, 0, 0), NetControlError.BadLength },
        { ControlRig.Bytes(6, 2, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0), NetControlError.BadLength },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Handle_Malformed_AnswersErrAndChangesNothing(byte[] command, NetControlError expected) =>
        Refused(ControlRig.Handler(), command, expected);

    [Theory]
    [InlineData(NetFeatures.CtrlVq, 0, 0)]
    [InlineData(NetFeatures.CtrlVq | NetFeatures.CtrlRx, 0, 2)]
    [InlineData(NetFeatures.CtrlVq, 1, 0)]
    [InlineData(NetFeatures.CtrlVq, 2, 0)]
    [InlineData(NetFeatures.CtrlVq, 4, 0)]
    [InlineData(NetFeatures.CtrlVq | NetFeatures.Mq, 4, 1)]
    [InlineData(NetFeatures.CtrlVq | NetFeatures.Rss, 4, 2)]
    [InlineData(NetFeatures.CtrlVq, 5, 0)]
    [InlineData(NetFeatures.CtrlVq | NetFeatures.VqNotfCoal, 6, 0)]
    [InlineData(NetFeatures.CtrlVq | NetFeatures.NotfCoal, 6, 2)]
    [InlineData(NetFeatures.CtrlRx | NetFeatures.Mq, 0, 0)]
    public void Handle_FeatureNotNegotiated_AnswersErr(NetFeatures features, int cls, int cmd)
    {
        // The data is irrelevant: the feature check comes before the length check.
        Refused(ControlRig.Handler(features), ControlRig.Bytes(cls, cmd, 1, 0), NetControlError.FeatureNotNegotiated);
    }

    [Fact]
    public void Reset_ReturnsToResetState()
    {
        NetControlHandler h = ControlRig.Handler();
        Ok(h, b => NetControlEncoder.WriteRxMode(b, NetRxMode.Promiscuous, false));
        h.Reset();
        Assert.Equal(NetRxMode.Promiscuous, h.State.RxMode);
        Assert.Equal(0ul, h.State.Version);
    }

    [Fact]
    public void Constructor_BadLimits_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NetControlHandler(ControlRig.AllControl, new NetControlLimits { MaxQueuePairs = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NetControlHandler(ControlRig.AllControl, new NetControlLimits { MaxQueuePairs = 0x8001 }));
        Assert.Throws<ArgumentNullException>(() => new NetControlHandler(ControlRig.AllControl, (NetControlLimits)null!));
    }

    private static NotificationCoalescing Get(NetControlHandler h, ushort queue)
    {
        ControlResult r = ControlRig.Run(h, ControlRig.Encode(b => NetControlEncoder.WriteQueueCoalescingGet(b, queue)), out byte[] response);
        Assert.Equal(9u, r.WrittenLength);
        Assert.True(NetControlEncoder.TryReadQueueCoalescing(response, r.WrittenLength, out NotificationCoalescing c));
        return c;
    }
}
