using System;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Net.Multiqueue;
using Xunit;
using static VirtioRing.Tests.Net.Multiqueue.TestFrames;

namespace VirtioRing.Tests.Net.Multiqueue;

/// <summary>Automatic receive steering (virtio 1.2 §5.1.6.5.6): a flow's RX follows the TX queue it last used.</summary>
public class AutomaticReceiveSteeringTests
{
    private static byte[] Out(int flow) => IPv4("10.0.0.1", "10.1.0.2", Tcp, (ushort)(10000 + flow), 80);

    private static byte[] Reply(int flow) => IPv4("10.1.0.2", "10.0.0.1", Tcp, 80, (ushort)(10000 + flow));

    private static AutomaticReceiveSteering Create(ushort active, ushort max = 8, int capacity = 4096)
    {
        var steering = new AutomaticReceiveSteering(max, capacity);
        steering.SetActivePairs(active);
        return steering;
    }

    [Fact]
    public void SelectReceiveQueue_ReplyToTransmittedFlow_FollowsTransmitQueue()
    {
        var steering = Create(8);
        for (int flow = 0; flow < 100; flow++)
        {
            steering.RecordTransmit(Out(flow), (ushort)(flow % 8));
        }

        for (int flow = 0; flow < 100; flow++)
        {
            Assert.Equal(flow % 8, steering.SelectReceiveQueue(Reply(flow)));
        }
    }

    [Fact]
    public void SelectReceiveQueue_FlowMovesToAnotherTransmitQueue_Follows()
    {
        var steering = Create(4);
        steering.RecordTransmit(Out(1), 1);
        steering.RecordTransmit(Out(1), 3);
        Assert.Equal(3, steering.SelectReceiveQueue(Reply(1)));
    }

    [Fact]
    public void SelectReceiveQueue_IPv6Flow_FollowsTransmitQueue()
    {
        var steering = Create(4);
        steering.RecordTransmit(IPv6("2001:db8::1", "2001:db8::2", Udp, 1000, 53), 2);
        Assert.Equal(2, steering.SelectReceiveQueue(IPv6("2001:db8::2", "2001:db8::1", Udp, 53, 1000)));
    }

    [Property(MaxTest = 300)]
    public Property SelectReceiveQueue_UnknownFlow_IsStableAndActive() => Prop.ForAll(
        Arb.From(Gen.Zip(Gen.Choose(0, 65535), Gen.Choose(1, 8))),
        c =>
        {
            var steering = Create((ushort)c.Item2);
            ushort first = steering.SelectReceiveQueue(Reply(c.Item1));
            return first < c.Item2 && steering.SelectReceiveQueue(Reply(c.Item1)) == first;
        });

    [Fact]
    public void SelectReceiveQueue_UnknownFlows_SpreadOverActivePairs()
    {
        var steering = Create(4);
        var seen = new int[4];
        for (int flow = 0; flow < 400; flow++)
        {
            seen[steering.SelectReceiveQueue(Reply(flow))]++;
        }

        Assert.All(seen, count => Assert.InRange(count, 50, 150));
    }

    [Fact]
    public void SelectReceiveQueue_NonIpFrameOrOnePair_IsReceiveq1()
    {
        var steering = Create(4);
        Assert.Equal(0, steering.SelectReceiveQueue(Ethernet(0x0806, new byte[28])));
        Assert.Equal(0, steering.SelectReceiveQueue(ReadOnlySpan<byte>.Empty));
        var single = Create(1);
        single.RecordTransmit(Out(1), 0);
        Assert.Equal(0, single.SelectReceiveQueue(Reply(1)));
    }

    [Fact]
    public void SetActivePairs_Shrink_ForgetsFlowsOnRemovedPairsOnly()
    {
        var steering = Create(8);
        steering.RecordTransmit(Out(1), 1);
        steering.RecordTransmit(Out(2), 6);
        steering.SetActivePairs(4);
        Assert.Equal(1, steering.SelectReceiveQueue(Reply(1)));
        Assert.True(steering.SelectReceiveQueue(Reply(2)) < 4);

        // Growing back does not resurrect the forgotten mapping.
        steering.SetActivePairs(8);
        var fresh = Create(8);
        Assert.Equal(fresh.SelectReceiveQueue(Reply(2)), steering.SelectReceiveQueue(Reply(2)));
    }

    [Fact]
    public void RecordTransmit_QueueBeyondActivePairs_IsNotLearned()
    {
        var steering = Create(2);
        var fresh = Create(2);
        steering.RecordTransmit(Out(1), 5);
        Assert.Equal(fresh.SelectReceiveQueue(Reply(1)), steering.SelectReceiveQueue(Reply(1)));
    }

    [Fact]
    public void RecordTransmit_MoreFlowsThanCapacity_StaysBoundedAndKeepsRecentFlows()
    {
        var steering = Create(8, capacity: 64);
        Assert.Equal(64, steering.Capacity);
        for (int flow = 0; flow < 10000; flow++)
        {
            steering.RecordTransmit(Out(flow), (ushort)(flow % 7 + 1));
        }

        // The latest flow of each set survives (it replaced the oldest entry).
        Assert.Equal(9999 % 7 + 1, steering.SelectReceiveQueue(Reply(9999)));
    }

    [Fact]
    public void Clear_ForgetsEverything()
    {
        var steering = Create(8);
        var fresh = Create(8);
        steering.RecordTransmit(Out(3), 7);
        steering.Clear();
        Assert.Equal(fresh.SelectReceiveQueue(Reply(3)), steering.SelectReceiveQueue(Reply(3)));
    }

    [Fact]
    public void Constructor_AndSetActivePairs_RejectOutOfRange()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AutomaticReceiveSteering(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AutomaticReceiveSteering(0x8001));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AutomaticReceiveSteering(4, 3));
        var steering = new AutomaticReceiveSteering(4);
        Assert.Equal(1, steering.ActivePairs);
        Assert.Throws<ArgumentOutOfRangeException>(() => steering.SetActivePairs(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => steering.SetActivePairs(5));
    }
}
