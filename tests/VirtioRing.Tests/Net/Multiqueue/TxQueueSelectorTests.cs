using System;
using VirtioRing.Net.Multiqueue;
using Xunit;
using static VirtioRing.Tests.Net.Multiqueue.TestFrames;

namespace VirtioRing.Tests.Net.Multiqueue;

/// <summary>The driver-side transmit queue policies behave as their documentation says.</summary>
public class TxQueueSelectorTests
{
    private static readonly byte[] PeerA = [0x52, 0x54, 0x00, 0x00, 0x00, 0x0A];
    private static readonly byte[] PeerB = [0x52, 0x54, 0x00, 0x00, 0x00, 0x0B];

    private static byte[] Flow(int flow, byte[]? mac = null) => IPv4("10.0.0.1", "10.1.0.2", Tcp, (ushort)(10000 + flow), 80, mac: mac);

    [Fact]
    public void Fixed_AlwaysSameQueue_FallsBackToQueue0WhenInactive()
    {
        var selector = new FixedTxQueueSelector(3);
        Assert.Equal(3, selector.SelectTransmitQueue(Flow(1), 4));
        Assert.Equal(3, selector.SelectTransmitQueue(Flow(2), 4));
        Assert.Equal(0, selector.SelectTransmitQueue(Flow(1), 3));
    }

    [Fact]
    public void RoundRobin_CyclesActiveQueues_AndRestartsWhenPairsShrink()
    {
        var selector = new RoundRobinTxQueueSelector();
        var got = new int[6];
        for (int i = 0; i < 6; i++)
        {
            got[i] = selector.SelectTransmitQueue(Flow(1), 3);
        }

        Assert.Equal(new[] { 0, 1, 2, 0, 1, 2 }, got);
        selector.SelectTransmitQueue(Flow(1), 8);   // 0
        selector.SelectTransmitQueue(Flow(1), 8);   // 1
        Assert.Equal(0, selector.SelectTransmitQueue(Flow(1), 2));
    }

    [Fact]
    public void FlowHash_SameFlow_SameQueueAndFlowsSpread()
    {
        var selector = new FlowHashTxQueueSelector();
        var seen = new int[4];
        for (int flow = 0; flow < 400; flow++)
        {
            ushort queue = selector.SelectTransmitQueue(Flow(flow), 4);
            Assert.Equal(queue, selector.SelectTransmitQueue(Flow(flow), 4));
            seen[queue]++;
        }

        Assert.All(seen, count => Assert.InRange(count, 50, 150));
        Assert.Equal(0, selector.SelectTransmitQueue(Ethernet(0x0806, new byte[28]), 4));
    }

    [Fact]
    public void FlowHash_Symmetric_MatchesAutomaticSteeringForUnknownReply()
    {
        // With the symmetric hash, a flow transmits on the pair automatic steering would pick for its reply.
        var selector = new FlowHashTxQueueSelector();
        var steering = new AutomaticReceiveSteering(8);
        steering.SetActivePairs(8);
        for (int flow = 0; flow < 50; flow++)
        {
            byte[] reply = IPv4("10.1.0.2", "10.0.0.1", Tcp, 80, (ushort)(10000 + flow));
            Assert.Equal(steering.SelectReceiveQueue(reply), selector.SelectTransmitQueue(Flow(flow), 8));
        }
    }

    [Fact]
    public void FlowHash_ReplyAligned_TransmitsOnQueueRssPicksForReplies()
    {
        const NetHashTypes types = NetHashTypes.IPv4 | NetHashTypes.TcpV4 | NetHashTypes.IPv6 | NetHashTypes.TcpV6;
        var table = new ushort[64];
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = (ushort)(i * 7 % 4);
        }

        var rss = new RssConfiguration(types, MicrosoftKey, table, unclassifiedQueue: 2);
        var selector = new FlowHashTxQueueSelector(rss);
        for (int flow = 0; flow < 50; flow++)
        {
            byte[] reply = IPv4("10.1.0.2", "10.0.0.1", Tcp, 80, (ushort)(10000 + flow));
            Assert.Equal(rss.Steering.Steer(reply).ReceiveQueue, selector.SelectTransmitQueue(Flow(flow), 4));
        }

        byte[] out6 = IPv6("2001:db8::1", "2001:db8::2", Tcp, 999, 443);
        byte[] reply6 = IPv6("2001:db8::2", "2001:db8::1", Tcp, 443, 999);
        Assert.Equal(rss.Steering.Steer(reply6).ReceiveQueue, selector.SelectTransmitQueue(out6, 4));

        // RSS would pick a queue that is not active: fall back within the active pairs.
        Assert.All(new[] { 1, 2, 3 }, pairs => Assert.True(selector.SelectTransmitQueue(Flow(pairs), (ushort)pairs) < pairs));
    }

    [Fact]
    public void DestinationMac_AssignedPeers_GetTheirQueue()
    {
        var selector = new DestinationMacTxQueueSelector(capacity: 4, defaultQueue: 1);
        Assert.True(selector.TryAssign(PeerA, 2));
        Assert.True(selector.TryAssign(PeerB, 3));
        Assert.Equal(2, selector.Count);
        Assert.Equal(2, selector.SelectTransmitQueue(Flow(1, PeerA), 4));
        Assert.Equal(3, selector.SelectTransmitQueue(Flow(2, PeerB), 4));
        Assert.True(selector.TryGetQueue(PeerB, out ushort q) && q == 3);
    }

    [Fact]
    public void DestinationMac_UnknownGroupOrInactive_UsesDefaultQueue()
    {
        var selector = new DestinationMacTxQueueSelector(capacity: 4, defaultQueue: 1);
        selector.TryAssign(PeerA, 3);
        byte[] broadcast = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        Assert.Equal(1, selector.SelectTransmitQueue(Flow(1, PeerB), 4));
        Assert.Equal(1, selector.SelectTransmitQueue(Flow(1, broadcast), 4));
        Assert.Equal(1, selector.SelectTransmitQueue(Flow(1, PeerA), 3));           // queue 3 not active
        Assert.Equal(0, selector.SelectTransmitQueue(Flow(1, PeerA), 1));           // nor the default
        Assert.Equal(1, selector.SelectTransmitQueue(new byte[] { 0x52, 0x54 }, 4)); // runt frame
    }

    [Fact]
    public void TryAssign_MacWithHighFirstOctet_IsFoundUpdatedAndRemoved()
    {
        // A unicast MAC whose first octet has its top bit set (0x80..0xFE, even): many real OUIs.
        byte[] high = [0xF8, 0x54, 0x00, 0x00, 0x00, 0x0C];
        var selector = new DestinationMacTxQueueSelector(capacity: 4, defaultQueue: 1);
        Assert.True(selector.TryAssign(high, 2));
        Assert.True(selector.TryGetQueue(high, out ushort q) && q == 2);
        Assert.Equal(2, selector.SelectTransmitQueue(Flow(1, high), 4));
        Assert.True(selector.TryAssign(high, 3));
        Assert.Equal(1, selector.Count);
        Assert.True(selector.TryGetQueue(high, out q) && q == 3);
        Assert.True(selector.Remove(high));
        Assert.Equal(0, selector.Count);
        Assert.False(selector.TryGetQueue(high, out _));
    }

    [Fact]
    public void DestinationMac_Full_RefusesNewButUpdatesExisting()
    {
        var selector = new DestinationMacTxQueueSelector(capacity: 1);
        Assert.True(selector.TryAssign(PeerA, 1));
        Assert.False(selector.TryAssign(PeerB, 2));
        Assert.True(selector.TryAssign(PeerA, 5));
        Assert.True(selector.TryGetQueue(PeerA, out ushort q) && q == 5);
        Assert.False(selector.TryGetQueue(PeerB, out _));
    }

    [Fact]
    public void DestinationMac_ManyAssignAndRemove_MatchesDictionary()
    {
        var selector = new DestinationMacTxQueueSelector(capacity: 64);
        var model = new System.Collections.Generic.Dictionary<int, ushort>();
        var random = new Random(1234);
        for (int step = 0; step < 20000; step++)
        {
            int id = random.Next(100);
            byte[] mac = [0x02, 0, 0, (byte)(id >> 16), (byte)(id >> 8), (byte)id];
            if (random.Next(3) == 0)
            {
                Assert.Equal(model.Remove(id), selector.Remove(mac));
            }
            else
            {
                ushort queue = (ushort)random.Next(0x8000);
                bool stored = selector.TryAssign(mac, queue);
                Assert.Equal(model.ContainsKey(id) || model.Count < 64, stored);
                if (stored)
                {
                    model[id] = queue;
                }
            }

            Assert.Equal(model.Count, selector.Count);
        }

        for (int id = 0; id < 100; id++)
        {
            byte[] mac = [0x02, 0, 0, (byte)(id >> 16), (byte)(id >> 8), (byte)id];
            Assert.Equal(model.TryGetValue(id, out ushort expected), selector.TryGetQueue(mac, out ushort actual));
            Assert.Equal(expected, actual);
        }

        selector.Clear();
        Assert.Equal(0, selector.Count);
    }

    [Fact]
    public void DestinationMac_Misuse_Throws()
    {
        var selector = new DestinationMacTxQueueSelector(capacity: 2);
        Assert.Throws<ArgumentException>(() => selector.TryAssign(new byte[5], 0));
        Assert.Throws<ArgumentException>(() => selector.TryAssign([0x01, 0, 0x5E, 0, 0, 1], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => selector.TryAssign(PeerA, 0x8000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DestinationMacTxQueueSelector(0));
    }

    [Fact]
    public void AllSelectors_ZeroActivePairs_Throw()
    {
        ITxQueueSelector[] selectors = [new FixedTxQueueSelector(0), new RoundRobinTxQueueSelector(), new FlowHashTxQueueSelector(), new DestinationMacTxQueueSelector(1)];
        Assert.All(selectors, s => Assert.Throws<ArgumentOutOfRangeException>(() => s.SelectTransmitQueue(Flow(1), 0)));
    }
}
