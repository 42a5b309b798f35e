using System;
using System.Collections.Generic;
using System.Linq;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Net.Rx;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;
using Xunit;
using static VirtioRing.Tests.Net.Multiqueue.TestFrames;

namespace VirtioRing.Tests.Net.Driver;

public class NetDriverTests
{
    public static TheoryData<bool, bool, bool, NetTransmitLayout> RingCombinations()
    {
        var data = new TheoryData<bool, bool, bool, NetTransmitLayout>();
        foreach (bool packed in new[] { false, true })
        {
            foreach (bool indirect in new[] { false, true })
            {
                foreach (bool eventIdx in new[] { false, true })
                {
                    foreach (NetTransmitLayout layout in new[] { NetTransmitLayout.HeaderInline, NetTransmitLayout.HeaderSeparate })
                    {
                        data.Add(packed, indirect, eventIdx, layout);
                    }
                }
            }
        }

        return data;
    }

    internal static byte[] Frame(int length, int seed)
    {
        var f = new byte[length];
        new Random(seed).NextBytes(f);
        return f;
    }

    [Fact]
    public void Negotiate_OfferMissingDependency_DropsDependentFeatures()
    {
        using GuestMemory m = GuestMemory.Allocate(new GuestAddress(0), 4096);
        var driver = new NetDriver(new NetDriverOptions(m, default, 4096));

        // MQ, RSS, CTRL_RX need CTRL_VQ (§5.1.3.1); GUEST_TSO4 needs GUEST_CSUM; HOST_TSO4 needs CSUM.
        NetFeatures offer = NetFeatures.Version1 | NetFeatures.Mq | NetFeatures.Rss | NetFeatures.CtrlRx | NetFeatures.GuestTso4 | NetFeatures.HostTso4 |
            NetFeatures.MrgRxBuf;
        NetFeatures accepted = driver.Negotiate(offer);

        Assert.Equal(NetFeatures.Version1 | NetFeatures.MrgRxBuf, accepted);
        Assert.True(NetFeatureNegotiation.CheckDependencies(accepted).IsValid);
        Assert.Equal(NetReceiveMode.Mergeable, driver.ReceiveMode);
        Assert.Equal(NetHeaderLayout.BasicSize, driver.HeaderLayout.Size);
    }

    [Fact]
    public void Negotiate_OnlyWantedFeatures_AreAccepted()
    {
        using GuestMemory m = GuestMemory.Allocate(new GuestAddress(0), 4096);
        var driver = new NetDriver(new NetDriverOptions(m, default, 4096) { WantedFeatures = NetFeatures.Version1 | NetFeatures.Csum });

        NetFeatures accepted = driver.Negotiate(DriverHarness.DeviceOffer | NetFeatures.RingPacked);

        Assert.Equal(NetFeatures.Version1 | NetFeatures.Csum, accepted);
        Assert.Equal(NetReceiveMode.SmallBuffers, driver.ReceiveMode);
        Assert.Equal(NetHeaderLayout.BasicSize + 1514, driver.ReceiveBufferSize);
    }

    [Fact]
    public void Negotiate_SeveralPairsWithoutMq_Throws()
    {
        using GuestMemory m = GuestMemory.Allocate(new GuestAddress(0), 4096);
        var driver = new NetDriver(new NetDriverOptions(m, default, 4096) { QueuePairs = 2 });

        Assert.Throws<InvalidOperationException>(() => driver.Negotiate(NetFeatures.Version1));
    }

    [Theory]
    [MemberData(nameof(RingCombinations))]
    public void SendReceive_RingCombination_RoundTripsByteForByte(bool packed, bool indirect, bool eventIdx, NetTransmitLayout layout)
    {
        using var h = new DriverHarness(DriverHarness.Offer(packed, indirect, eventIdx), queueSize: 32,
            options: (m, a, l) => new NetDriverOptions(m, a, l) { TransmitLayout = layout });
        var rx = new byte[9000];
        for (int i = 0; i < 200; i++)
        {
            byte[] frame = Frame(60 + (i * 37 % 3000), i);
            var header = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = 34, ChecksumOffset = 6 };
            Assert.True(h.Driver.TrySend(0, frame, header));
            Assert.True(h.TryPopTransmit(0, out VirtioNetHeader sentHeader, out byte[] sent));
            Assert.Equal(frame, sent);
            Assert.Equal(header, sentHeader);

            Assert.True(h.Deliver(0, frame, new VirtioNetHeader { Flags = NetHeaderFlags.DataValid }).IsDelivered);
            Assert.True(h.Driver.TryReceive(0, rx, out VirtioNetHeader got, out int length));
            Assert.Equal(frame, rx.AsSpan(0, length).ToArray());
            Assert.Equal(NetHeaderFlags.DataValid, got.Flags);
        }

        Assert.Equal(NetDriverStatus.Empty, h.Driver.Receive(0, rx, out _, out _));
        Assert.Equal(200UL, h.Driver.GetCounters(0).Packets);
        Assert.Equal(200UL, h.Driver.GetCounters(1).Packets);
        Assert.Equal(h.Driver.GetCounters(0).Bytes, h.Driver.GetCounters(1).Bytes);
        Assert.Equal(32, h.Driver.GetReceivePosted(0));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Send_HeaderSeparateWithIndirect_UsesTwoSegmentsInOneTable(bool packed, bool indirect)
    {
        using var h = new DriverHarness(DriverHarness.Offer(packed, indirect, eventIdx: false), queueSize: 16,
            options: (m, a, l) => new NetDriverOptions(m, a, l) { TransmitLayout = NetTransmitLayout.HeaderSeparate });

        Assert.True(h.Driver.TrySend(0, Frame(100, 1), default));
        int freeAfterAdd = h.Driver.GetDriverQueue(1).FreeDescriptors;
        Assert.True(h.TryPopTransmit(0, out _, out byte[] sent));

        Assert.Equal(100, sent.Length);
        Assert.Equal(2, h.LastTransmitSegments);
        Assert.Equal(indirect ? 15 : 14, freeAfterAdd);   // an indirect table takes one ring descriptor
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Receive_MergeableFrameOverSeveralBuffers_ReassemblesWithNumBuffers(bool packed)
    {
        using var h = new DriverHarness(DriverHarness.Offer(packed, indirect: false, eventIdx: true),
            options: (m, a, l) => new NetDriverOptions(m, a, l) { MergeableBufferSize = 1024 });
        byte[] frame = Frame(5000, 7);   // 12 + 5000 bytes over 1024-byte buffers: 5 buffers

        NetReceiveResult r = h.Deliver(0, frame);
        var rx = new byte[6000];

        Assert.Equal(5, r.Buffers);
        Assert.True(h.Driver.TryReceive(0, rx, out VirtioNetHeader header, out int length));
        Assert.Equal(5, header.NumBuffers);
        Assert.Equal(frame, rx.AsSpan(0, length).ToArray());
        Assert.Equal(64, h.Driver.GetReceivePosted(0));   // all five posted again
    }

    private struct Collector : INetFrameReceiver
    {
        public List<byte[]> Frames;
        public List<int> Buffers;

        public void OnFrame(in VirtioNetHeader header, in NetReceivedFrame frame)
        {
            var copy = new byte[frame.Length];
            Assert.Equal(frame.Length, frame.CopyTo(copy));
            Frames.Add(copy);
            Buffers.Add(frame.BufferCount);
            Assert.Equal(frame.BufferCount, header.NumBuffers);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReceiveBatch_FramesInPlace_HandsEachOverAndReposts(bool packed)
    {
        using var h = new DriverHarness(DriverHarness.Offer(packed, indirect: false, eventIdx: true, inOrder: true), queueSize: 32,
            options: (m, a, l) => new NetDriverOptions(m, a, l) { MergeableBufferSize = 512 });
        byte[][] frames = [Frame(60, 1), Frame(1400, 2), Frame(4000, 3)];
        foreach (byte[] f in frames)
        {
            Assert.True(h.Deliver(0, f).IsDelivered);
        }

        var c = new Collector { Frames = [], Buffers = [] };
        Assert.Equal(2, h.Driver.ReceiveBatch(0, ref c, budget: 2));
        Assert.Equal(1, h.Driver.ReceiveBatch(0, ref c));
        Assert.Equal(0, h.Driver.ReceiveBatch(0, ref c));

        Assert.Equal(frames, c.Frames);
        Assert.Equal(new[] { 1, 3, 8 }, c.Buffers);
        Assert.Equal(32, h.Driver.GetReceivePosted(0));
        Assert.Equal(3UL, h.Driver.GetCounters(0).Packets);
    }

    [Fact]
    public void Receive_HashReportNegotiated_Uses20ByteHeaderAndCarriesHash()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false) | NetFeatures.HashReport);
        Assert.Equal(NetHeaderLayout.HashReportSize, h.Driver.HeaderLayout.Size);
        byte[] frame = Frame(300, 4);
        var header = new VirtioNetHeader { HashValue = 0xDEADBEEF, HashReport = NetHashReport.TcpV4 };

        Assert.True(h.Deliver(0, frame, header).IsDelivered);
        var rx = new byte[2048];
        Assert.True(h.Driver.TryReceive(0, rx, out VirtioNetHeader got, out int length));

        Assert.Equal(frame, rx.AsSpan(0, length).ToArray());
        Assert.Equal(0xDEADBEEFu, got.HashValue);
        Assert.Equal(NetHashReport.TcpV4, got.HashReport);
        Assert.True(h.Driver.TrySend(0, frame, default));
        Assert.True(h.TryPopTransmit(0, out _, out byte[] sent));
        Assert.Equal(frame, sent);
    }

    [Fact]
    public void Receive_RepostedBuffers_PublishedInGroupsAndWhenDrained()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false), queueSize: 16);   // groups of 4
        var rx = new byte[2048];
        for (int i = 0; i < 6; i++)
        {
            Assert.True(h.Deliver(0, Frame(64, i)).IsDelivered);
        }

        for (int i = 0; i < 3; i++)
        {
            Assert.True(h.Driver.TryReceive(0, rx, out _, out _));
        }

        Assert.Equal(10, CountAvailable(h));   // 16 - 6 delivered; the 3 reposted wait for a group of 4
        h.Driver.FlushReceive(0);
        Assert.Equal(3, CountAvailable(h));
        while (h.Driver.TryReceive(0, rx, out _, out _))
        {
        }

        // The 13 buffers CountAvailable returned empty and the last 3 frames' buffers: all reposted and
        // published when the queue ran empty.
        Assert.Equal(16, CountAvailable(h));
    }

    private static int CountAvailable(DriverHarness h)
    {
        int n = 0;
        while (h.Device[0].TryPopAvailable(out DescriptorChain chain) == PopStatus.Popped)
        {
            h.Device[0].PushUsed(chain, 0);
            n++;
        }

        h.Device[0].PublishUsed();
        return n;
    }

    [Fact]
    public void Receive_DestinationTooSmall_KeepsFrameUntilBigEnough()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false));
        byte[] frame = Frame(3000, 3);
        h.Deliver(0, frame);

        Assert.Equal(NetDriverStatus.DestinationTooSmall, h.Driver.Receive(0, new byte[100], out _, out int needed));
        Assert.Equal(3000, needed);
        var rx = new byte[3000];
        Assert.Equal(NetDriverStatus.Ok, h.Driver.Receive(0, rx, out _, out int length));
        Assert.Equal(frame, rx.AsSpan(0, length).ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Receive_BigBuffersMode_TakesGsoFrameInOneBuffer(bool packed)
    {
        NetFeatures offer = DriverHarness.Offer(packed, indirect: false, eventIdx: false, mergeable: false);
        using var h = new DriverHarness(offer, queueSize: 8);
        Assert.Equal(NetReceiveMode.BigBuffers, h.Driver.ReceiveMode);
        byte[] frame = Frame(60000, 11);
        var header = new VirtioNetHeader { GsoType = NetGsoType.TcpV4, GsoSize = 1448, HeaderLength = 54 };

        NetReceiveResult r = h.Deliver(0, frame, header);
        var rx = new byte[65536];

        Assert.Equal(1, r.Buffers);
        Assert.True(h.Driver.TryReceive(0, rx, out VirtioNetHeader got, out int length));
        Assert.Equal(frame, rx.AsSpan(0, length).ToArray());
        Assert.Equal(NetGsoType.TcpV4, got.GsoType);
        Assert.Equal(1448, got.GsoSize);
    }

    [Fact]
    public void Receive_SmallBuffersMode_TakesFullSizeFrame()
    {
        NetFeatures offer = NetFeatures.Version1 | NetFeatures.RingPacked;
        using var h = new DriverHarness(offer, queueSize: 8);
        Assert.Equal(NetReceiveMode.SmallBuffers, h.Driver.ReceiveMode);
        byte[] frame = Frame(1514, 5);

        Assert.True(h.Deliver(0, frame).IsDelivered);
        var rx = new byte[2000];
        Assert.True(h.Driver.TryReceive(0, rx, out _, out int length));
        Assert.Equal(frame, rx.AsSpan(0, length).ToArray());
        Assert.Equal(NetReceiveStatus.FrameTooLarge, h.Deliver(0, Frame(1515, 5)).Status);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Send_TsoFrameLongerThanOneBuffer_GoesAsOneChain(bool packed, bool indirect)
    {
        using var h = new DriverHarness(DriverHarness.Offer(packed, indirect, eventIdx: true), queueSize: 64, maxIndirect: 64);
        byte[] frame = IPv4("10.0.0.1", "10.0.0.2", Tcp, 1000, 80, payload: 40000);
        var header = new VirtioNetHeader
        {
            Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = 34, ChecksumOffset = 16,
            GsoType = NetGsoType.TcpV4, GsoSize = 1448, HeaderLength = 54,
        };

        Assert.True(h.Driver.TrySend(0, frame, header));
        Assert.True(h.TryPopTransmit(0, out VirtioNetHeader got, out byte[] sent));

        Assert.Equal(frame, sent);
        Assert.Equal(header, got);
        Assert.Equal((frame.Length + 12 + 2047) / 2048, h.LastTransmitSegments);
        h.Driver.ReclaimTransmitted(0);
        Assert.Equal(0, h.Driver.GetTransmitOutstanding(0));
    }

    [Fact]
    public void Send_FrameNeedingMoreBuffersThanQueue_Throws()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false), queueSize: 8);

        Assert.Throws<ArgumentException>(() => h.Driver.TrySend(0, new byte[8 * 2048], default));
        Assert.Throws<ArgumentException>(() => h.Driver.TrySend(0, ReadOnlySpan<byte>.Empty, default));
    }

    [Fact]
    public void Send_OffloadNotNegotiated_Throws()
    {
        using var h = new DriverHarness(NetFeatures.Version1);
        var header = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = 14, ChecksumOffset = 6 };

        Assert.Throws<ArgumentException>(() => h.Driver.TrySend(0, new byte[100], header));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Send_MoreFramesThanQueueSize_ReclaimsCompletedBuffers(bool packed)
    {
        using var h = new DriverHarness(DriverHarness.Offer(packed, indirect: false, eventIdx: true), queueSize: 16);
        int received = 0;
        for (int i = 0; i < 1000; i++)
        {
            byte[] frame = Frame(64 + (i % 1400), i);
            Assert.True(h.Driver.TrySend(0, frame, default));
            if (i % 5 == 4)
            {
                while (h.TryPopTransmit(0, out _, out _))
                {
                    received++;
                }
            }
        }

        while (h.TryPopTransmit(0, out _, out _))
        {
            received++;
        }

        Assert.Equal(1000, received);
        Assert.Equal(0UL, h.Driver.GetCounters(1).Errors);
    }

    [Fact]
    public void Send_DeviceHoldsEveryBuffer_ReturnsFalseThenRecovers()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false), queueSize: 16);
        for (int i = 0; i < 16; i++)
        {
            Assert.True(h.Driver.TrySend(0, Frame(100, i), default));
        }

        Assert.False(h.Driver.TrySend(0, Frame(100, 99), default));
        Assert.Equal(NetDriverStatus.QueueFull, h.Driver.Send(0, Frame(100, 99), default));
        Assert.Equal(2UL, h.Driver.GetCounters(1).Errors);

        while (h.TryPopTransmit(0, out _, out _, complete: false))
        {
        }

        Assert.False(h.Driver.TrySend(0, Frame(100, 99), default));   // popped but not completed: still not free
        h.CompleteHeld(0);
        Assert.True(h.Driver.TrySend(0, Frame(100, 99), default));
        Assert.True(h.TryPopTransmit(0, out _, out byte[] sent));
        Assert.Equal(Frame(100, 99), sent);
    }

    [Fact]
    public void Enqueue_BatchThenFlush_PublishesOnceAndKicksOnce()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, eventIdx: true));
        int before = h.Kicks[1].Count;
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(NetDriverStatus.Ok, h.Driver.Enqueue(0, Frame(80, i), default));
        }

        Assert.False(h.Device[1].TryPopAvailable(out _) == PopStatus.Popped);   // nothing published yet
        h.Driver.Flush(0);

        Assert.Equal(before + 1, h.Kicks[1].Count);
        Assert.Equal(1UL, h.Driver.GetCounters(1).Kicks);
        int n = 0;
        while (h.TryPopTransmit(0, out _, out _))
        {
            n++;
        }

        Assert.Equal(8, n);
    }

    [Fact]
    public void SetQueuePairs_Acked_TransmitSelectorSpreadsFlowsOverActivePairs()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, true, true), pairs: 4);
        var frames = Enumerable.Range(0, 64).Select(i => IPv4("10.0.0.1", "10.0.0." + (i + 2), Udp, (ushort)(1000 + i), 53)).ToArray();

        Assert.All(frames, f => Assert.Equal(0, h.Driver.SelectPair(f)));   // one pair until VQ_PAIRS_SET
        Assert.Equal(ControlAck.Ok, h.Driver.SetQueuePairs(4));
        Assert.Equal(4, h.Driver.ActivePairs);
        Assert.Equal(4, h.Handler!.State.ActiveQueuePairs);

        foreach (byte[] f in frames)
        {
            Assert.True(h.Driver.TrySend(f, default));
        }

        var perPair = new int[4];
        for (int p = 0; p < 4; p++)
        {
            while (h.TryPopTransmit(p, out _, out byte[] sent))
            {
                perPair[p]++;
                Assert.Equal(p, h.Driver.SelectPair(sent));   // the same flow always maps to the same pair
            }
        }

        Assert.Equal(64, perPair.Sum());
        Assert.True(perPair.Count(c => c > 0) >= 3, "flows spread over the pairs: " + string.Join(",", perPair));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Send_DeviceSuppressesNotifications_DoesNotKick(bool packed, bool eventIdx)
    {
        using var h = new DriverHarness(DriverHarness.Offer(packed, indirect: false, eventIdx));
        Assert.True(h.Driver.TrySend(0, Frame(64, 1), default));
        Assert.Equal(1, h.Kicks[1].Count);
        while (h.TryPopTransmit(0, out _, out _))
        {
        }

        h.Device[1].DisableNotifications();
        for (int i = 0; i < 10; i++)
        {
            Assert.True(h.Driver.TrySend(0, Frame(64, i), default));
        }

        // With EVENT_IDX a split device stops moving avail_event, so the driver kicks at most once more.
        int kicks = h.Kicks[1].Count;
        Assert.InRange(kicks, 1, 2);
        Assert.Equal((ulong)kicks, h.Driver.GetCounters(1).Kicks);
        while (h.TryPopTransmit(0, out _, out _))
        {
        }

        Assert.False(h.Device[1].EnableNotifications());
        Assert.True(h.Driver.TrySend(0, Frame(64, 2), default));
        Assert.Equal(kicks + 1, h.Kicks[1].Count);
    }

    [Fact]
    public void Receive_OnEachPair_KeepsPairsApart()
    {
        using var h = new DriverHarness(DriverHarness.Offer(true, true, true), pairs: 3);
        var rx = new byte[2048];
        for (int p = 0; p < 3; p++)
        {
            Assert.True(h.Deliver(p, Frame(100 + p, p)).IsDelivered);
        }

        for (int p = 2; p >= 0; p--)
        {
            Assert.True(h.Driver.TryReceive(p, rx, out _, out int length));
            Assert.Equal(Frame(100 + p, p), rx.AsSpan(0, length).ToArray());
            Assert.False(h.Driver.TryReceive(p, rx, out _, out _));
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => h.Driver.TryReceive(3, rx, out _, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => h.Driver.GetCounters(7));
    }

    [Fact]
    public void TrySend_ConfiguredSelector_PicksItsPair()
    {
        var selector = new DestinationMacTxQueueSelector(4);
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false), pairs: 3,
            options: (m, a, l) => new NetDriverOptions(m, a, l) { QueuePairs = 3, TxQueueSelector = selector });
        byte[] frame = IPv4("10.0.0.1", "10.0.0.2", Udp, 1, 2);   // destination MAC = TestFrames.DestinationMac
        Assert.True(selector.TryAssign(DestinationMac, 2));

        h.Driver.UseQueuePairs(3);
        Assert.True(h.Driver.TrySend(frame, default));

        Assert.False(h.TryPopTransmit(0, out _, out _));
        Assert.True(h.TryPopTransmit(2, out _, out byte[] sent));
        Assert.Equal(frame, sent);
        Assert.Throws<ArgumentOutOfRangeException>(() => h.Driver.UseQueuePairs(4));
    }

    [Fact]
    public void SetQueuePairs_DeviceRefuses_KeepsActivePairs()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false), pairs: 4, maxDevicePairs: 2);

        Assert.Equal(ControlAck.Err, h.Driver.SetQueuePairs(3));
        Assert.Equal(1, h.Driver.ActivePairs);
        Assert.Throws<ArgumentOutOfRangeException>(() => h.Driver.SetQueuePairs(5));
    }

    [Fact]
    public void ControlCommands_EncodedAndAcked_ChangeDeviceState()
    {
        NetFeatures offer = DriverHarness.Offer(true, false, true);
        using var h = new DriverHarness(offer, pairs: 2);
        var mac = new MacAddress(0x0200_0000_0042UL);
        var unicast = new[] { new MacAddress(0x0200_0000_0001UL), new MacAddress(0x0200_0000_0002UL) };
        var multicast = new[] { new MacAddress(0x0100_5E00_0001UL) };

        Assert.Equal(ControlAck.Ok, h.Driver.SetRxMode(NetRxMode.Promiscuous, true));
        Assert.Equal(ControlAck.Ok, h.Driver.SetMacTable(unicast, multicast));
        Assert.Equal(ControlAck.Ok, h.Driver.SetMacAddress(mac));
        Assert.Equal(ControlAck.Ok, h.Driver.SetVlan(true, 42));
        Assert.Equal(ControlAck.Ok, h.Driver.SetGuestOffloads(NetFeatures.GuestCsum));
        ushort[] table = [0, 1, 1, 0];
        var rss = new RssConfiguration(NetHashTypes.TcpV4, MicrosoftKey, table, 1);
        Assert.Equal(ControlAck.Ok, h.Driver.SetRss(rss, transmitPairs: 2));

        NetControlState s = h.Handler!.State;
        Assert.True((s.RxMode & NetRxMode.Promiscuous) != 0);
        Assert.Equal(mac, s.PrimaryMac);
        Assert.Equal(2, s.UnicastFilter.Count);
        Assert.Equal(multicast.Length, s.MulticastFilter.Count);
        Assert.True(s.ContainsVlan(42));
        Assert.Equal(NetFeatures.GuestCsum, s.GuestOffloads);
        Assert.NotNull(s.Rss);
        Assert.Equal(table, s.Rss!.IndirectionTable);
        Assert.Equal(2, h.Driver.ActivePairs);
        Assert.Equal(6UL, h.Driver.GetCounters(4).Packets);
        Assert.Equal(0UL, h.Driver.GetCounters(4).Errors);
    }

    [Fact]
    public void ControlCommand_DeviceRefuses_ReturnsErr()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false));

        Assert.Equal(ControlAck.Err, h.Driver.SendControlCommand([0x7F, 0x01, 0x00]));   // unknown class
        Assert.Equal(1UL, h.Driver.GetCounters(2).Errors);
        Assert.Equal(ControlAck.Ok, h.Driver.SetRxMode(NetRxMode.AllMulticast, true));
    }

    [Fact]
    public void ControlCommand_DeviceNeverAnswers_TimesOutWithTypedError()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false), controlAnswers: false,
            options: (m, a, l) => new NetDriverOptions(m, a, l) { ControlTimeout = TimeSpan.FromMilliseconds(50) });

        NetDriverException e = Assert.Throws<NetDriverException>(() => h.Driver.SetRxMode(NetRxMode.Promiscuous, true));
        Assert.Equal(NetDriverFault.ControlTimeout, e.Fault);
        Assert.Equal(NetDriverFault.ControlTimeout, h.Driver.GetFault(2));
        Assert.Throws<NetDriverException>(() => h.Driver.SetRxMode(NetRxMode.Promiscuous, false));
    }

    [Fact]
    public void ControlCommand_TimeoutMaxValue_WaitsForALateAnswer()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false), controlAnswers: false,
            options: (m, a, l) => new NetDriverOptions(m, a, l) { ControlTimeout = TimeSpan.MaxValue });
        IDeviceQueue control = h.Device[h.Rings.Count - 1];
        using var answered = new System.Threading.ManualResetEventSlim();
        var late = new System.Threading.Thread(() =>
        {
            System.Threading.Thread.Sleep(100);   // the device answers late; an overflowed deadline would have fired already
            h.Handler!.ProcessAvailable(control);
            answered.Set();
        });
        late.Start();

        Assert.Equal(ControlAck.Ok, h.Driver.SetRxMode(NetRxMode.Promiscuous, true));
        late.Join();
        Assert.True(answered.IsSet);
        Assert.Equal(NetDriverFault.None, h.Driver.GetFault(2));
    }

    [Fact]
    public void ControlCommand_FeatureNotNegotiated_Throws()
    {
        using var h = new DriverHarness(NetFeatures.Version1 | NetFeatures.CtrlVq);

        Assert.Throws<InvalidOperationException>(() => h.Driver.SetQueuePairs(1));
        Assert.Throws<InvalidOperationException>(() => h.Driver.SetRss(new RssConfiguration(NetHashTypes.IPv4, MicrosoftKey, [0], 0)));
        Assert.Throws<InvalidOperationException>(() => h.Driver.SetMacAddress(default));
    }

    [Theory]
    [InlineData((ushort)0)]
    [InlineData((ushort)65)]
    public void Receive_DeviceGivesImpossibleNumBuffers_FaultsWithTypedError(ushort numBuffers)
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false));
        IDeviceQueue rxq = h.Device[0];
        Assert.Equal(PopStatus.Popped, rxq.TryPopAvailable(out DescriptorChain chain));
        var bytes = new byte[100];
        new VirtioNetHeader { NumBuffers = numBuffers }.Write(bytes, h.Layout);
        chain.CopyToWritable(0, bytes);
        rxq.PushUsed(chain, 100);
        rxq.PublishUsed();

        Assert.Equal(NetDriverStatus.Faulted, h.Driver.Receive(0, new byte[2048], out _, out _));
        Assert.Equal(NetDriverFault.BadBufferCount, h.Driver.GetFault(0));
        Assert.False(h.Driver.TryReceive(0, new byte[2048], out _, out _));
        Assert.Equal(1UL, h.Driver.GetCounters(0).Errors);
    }

    [Fact]
    public void Receive_NumBuffersMoreThanDeviceUsed_WaitsThenFaultsWhenNoneCanCome()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false), queueSize: 2);
        IDeviceQueue rxq = h.Device[0];
        Assert.Equal(PopStatus.Popped, rxq.TryPopAvailable(out DescriptorChain first));
        var bytes = new byte[100];
        new VirtioNetHeader { NumBuffers = 2 }.Write(bytes, h.Layout);
        first.CopyToWritable(0, bytes);
        rxq.PushUsed(first, 100);
        rxq.PublishUsed();

        Assert.Equal(NetDriverStatus.Empty, h.Driver.Receive(0, new byte[4096], out _, out _));   // the second may still come

        Assert.Equal(PopStatus.Popped, rxq.TryPopAvailable(out DescriptorChain second));
        new VirtioNetHeader { NumBuffers = 2 }.Write(bytes, h.Layout);
        second.CopyToWritable(0, bytes);
        rxq.PushUsed(second, 100);
        rxq.PublishUsed();

        // Both buffers used for one frame of num_buffers 2: fine; the first says 2, the second is its tail.
        Assert.Equal(NetDriverStatus.Ok, h.Driver.Receive(0, new byte[4096], out _, out int length));
        Assert.Equal(200 - 12, length);
    }

    [Fact]
    public void Receive_UsedLengthShorterThanHeader_FaultsWithShortFrame()
    {
        using var h = new DriverHarness(DriverHarness.Offer(true, false, false));
        IDeviceQueue rxq = h.Device[0];
        Assert.Equal(PopStatus.Popped, rxq.TryPopAvailable(out DescriptorChain chain));
        rxq.PushUsed(chain, 5);
        rxq.PublishUsed();

        Assert.Equal(NetDriverStatus.Faulted, h.Driver.Receive(0, new byte[2048], out _, out _));
        Assert.Equal(NetDriverFault.ShortFrame, h.Driver.GetFault(0));
    }

    [Fact]
    public void Receive_UsedLengthZero_RepostsBufferSilently()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false), queueSize: 4);
        IDeviceQueue rxq = h.Device[0];
        Assert.Equal(PopStatus.Popped, rxq.TryPopAvailable(out DescriptorChain chain));
        rxq.PushUsed(chain, 0);
        rxq.PublishUsed();

        Assert.Equal(NetDriverStatus.Empty, h.Driver.Receive(0, new byte[2048], out _, out _));
        Assert.Equal(4, h.Driver.GetReceivePosted(0));
        Assert.Equal(NetDriverFault.None, h.Driver.GetFault(0));
    }

    [Fact]
    public void Receive_DeviceReportsUsedLengthBeyondBuffer_FaultsQueueBroken()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, false));
        Assert.True(h.Deliver(0, Frame(100, 1)).IsDelivered);

        // A hostile device rewrites used.ring[0].len (split layout §2.7.8: flags, idx, then {id, len} elements).
        GuestAddress usedLen = h.Rings[0].SplitLayout.UsedRing.Add(4 + 4);
        h.Memory.Write(usedLen, BitConverter.GetBytes(100_000u));

        Assert.Equal(NetDriverStatus.Faulted, h.Driver.Receive(0, new byte[2048], out _, out _));
        Assert.Equal(NetDriverFault.QueueBroken, h.Driver.GetFault(0));
        Assert.Equal(VirtqueueFault.InvalidUsedLength, h.Driver.GetDriverQueue(0).Fault);
        Assert.True(h.Driver.TrySend(0, Frame(64, 1), default));   // the other queues go on
    }

    [Fact]
    public void UsedNotifications_EnableAndDisable_PassThroughToQueue()
    {
        using var h = new DriverHarness(DriverHarness.Offer(false, false, eventIdx: false));
        h.Driver.DisableUsedNotifications(0);
        Assert.True(h.Deliver(0, Frame(64, 1)).IsDelivered);
        Assert.False(h.Device[0].ShouldNotifyDriver());

        Assert.True(h.Driver.EnableUsedNotifications(0));   // a frame is already waiting
        Assert.True(h.Driver.TryReceive(0, new byte[2048], out _, out _));
        Assert.False(h.Driver.EnableUsedNotifications(0));
        Assert.True(h.Deliver(0, Frame(64, 2)).IsDelivered);
        Assert.True(h.Device[0].ShouldNotifyDriver());
    }

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(false, 16)]
    [InlineData(true, 16)]
    public void Rings_Create_ExposesAreasTheDeviceSideCanBeBuiltOver(bool packed, int maxIndirect)
    {
        NetFeatures f = NetFeatures.Version1 | NetFeatures.CtrlVq | NetFeatures.Mq | NetFeatures.IndirectDesc | (packed ? NetFeatures.RingPacked : 0);
        ulong bytes = NetDriverRings.GetRequiredBytes(3, 128, f, maxIndirect, controlQueueSize: 32);
        using GuestMemory m = GuestMemory.Allocate(new GuestAddress(0x4000), bytes);

        NetDriverRings rings = NetDriverRings.Create(m, new GuestAddress(0x4000), bytes, 3, 128, f, maxIndirect, 32);

        Assert.Equal(7, rings.Count);
        Assert.True(rings.HasControlQueue);
        Assert.Equal(32, rings[6].Size);
        Assert.Equal(bytes, rings.Bytes);
        var seen = new HashSet<ulong>();
        for (int i = 0; i < rings.Count; i++)
        {
            NetRing r = rings[i];
            Assert.Equal(i, r.Index);
            Assert.Equal(packed, r.IsPacked);
            Assert.True(seen.Add(r.DescriptorArea.Value));
            Assert.True(r.DescriptorArea.IsAligned(16));
            Assert.True(r.DriverArea.IsAligned(4) && r.DeviceArea.IsAligned(4));
            if (packed)
            {
                Assert.Equal(new PackedQueueLayout(r.Size, r.DescriptorArea, r.DriverArea, r.DeviceArea), r.PackedLayout);
            }
            else
            {
                Assert.Equal(new SplitQueueLayout(r.Size, r.DescriptorArea, r.DriverArea, r.DeviceArea), r.SplitLayout);
            }

            IDeviceQueue device = r.CreateDeviceQueue();
            Assert.True(r.Driver.TryAddChain([BufferSegment.Writable(new GuestAddress(0x4000), 16), BufferSegment.Writable(new GuestAddress(0x4010), 16)], 7));
            r.Driver.PublishAvailable();
            Assert.Equal(PopStatus.Popped, device.TryPopAvailable(out DescriptorChain chain));
            Assert.Equal(2, chain.SegmentCount);
            device.PushUsed(chain, 32);
            device.PublishUsed();
            Assert.Equal(PopStatus.Popped, r.Driver.TryReclaimUsed(out UsedBuffer used));
            Assert.Equal(7UL, used.Token);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => NetDriverRings.Create(m, new GuestAddress(0x4000), bytes - 1, 3, 128, f, maxIndirect, 32));
    }

    [Fact]
    public void Bind_WrongQueueCountOrSmallArea_Throws()
    {
        NetFeatures f = NetFeatures.Version1 | NetFeatures.MrgRxBuf;
        ulong ringBytes = NetDriverRings.GetRequiredBytes(1, 64, f);
        using GuestMemory m = GuestMemory.Allocate(new GuestAddress(0), 1 << 20);
        NetDriverRings rings = NetDriverRings.Create(m, new GuestAddress(0), ringBytes, 1, 64, f);
        var small = new NetDriver(new NetDriverOptions(m, new GuestAddress(65536), 4096));
        small.Negotiate(f);

        Assert.Throws<ArgumentException>(() => small.Bind(new[] { rings.DriverQueues[0] }));
        Assert.Throws<ArgumentException>(() => small.Bind(rings));
        Assert.Throws<InvalidOperationException>(() => new NetDriver(new NetDriverOptions(m, default, 0)).Bind(rings));
    }
}
