using System.Collections.Generic;
using VirtioRing.Net;
using VirtioRing.Net.Switching;
using Xunit;

namespace VirtioRing.Tests.Net.InProcess;

/// <summary>
/// <see cref="NetSwitchSteering.QueueAffinity"/>: a frame a guest sent on its pair i reaches the receiving guest on its
/// pair i modulo the receiver's active pairs (DPDK io forwarding's layout), whatever its flow; the default
/// <see cref="NetSwitchSteering.Flow"/> leaves the choice to the receiver (one flow lands on one queue).
/// </summary>
public sealed class QueueAffinitySteeringTests
{
    private const int PerPair = 12;

    [Theory]
    [InlineData(false, 2)]
    [InlineData(true, 2)]
    [InlineData(false, 1)]
    [InlineData(false, 3)]
    public void QueueAffinity_OneFlowSentOnEachPair_ArrivesOnPairIModReceiversActivePairs(bool packed, int receiverPairs)
    {
        var options = new NetSwitchOptions { GuestPortQueues = 4, GuestSteering = NetSwitchSteering.QueueAffinity };
        using var lan = new GuestLan(2, i => GuestLan.Options(i, packed, pairs: i == 0 ? 3 : receiverPairs), options);
        Learn(lan);

        // One flow (same addresses, same EtherType) sent on each of A's three pairs.
        for (int pair = 0; pair < 3; pair++)
        {
            for (int i = 0; i < PerPair; i++)
            {
                byte[] frame = TestFrames.Build(GuestLan.HomeMac(1), GuestLan.HomeMac(0), 60 + i, (pair * 1000) + i);
                Assert.True(lan[0].Driver.TrySend(pair, frame, default));
            }
        }

        lan.PollAll();
        List<ReceivedFrame> got = lan.Drain(1);
        Assert.Equal(3 * PerPair, got.Count);
        foreach (ReceivedFrame f in got)
        {
            int sentOn = TestFrames.SequenceOf(f.Bytes) / 1000;
            Assert.Equal(sentOn % receiverPairs, f.Pair);
        }
    }

    [Fact]
    public void FlowSteering_OneFlowSentOnEachPair_ArrivesOnOneQueue()
    {
        using var lan = new GuestLan(2, i => GuestLan.Options(i, packed: false, pairs: 2));
        Learn(lan);
        for (int pair = 0; pair < 2; pair++)
        {
            for (int i = 0; i < PerPair; i++)
            {
                Assert.True(lan[0].Driver.TrySend(pair, TestFrames.Build(GuestLan.HomeMac(1), GuestLan.HomeMac(0), 60 + i, (pair * 1000) + i), default));
            }
        }

        lan.PollAll();
        List<ReceivedFrame> got = lan.Drain(1);
        Assert.Equal(2 * PerPair, got.Count);
        Assert.All(got, f => Assert.Equal(got[0].Pair, f.Pair));
    }

    [Fact]
    public void NetSwitch_UnknownGuestSteering_Throws()
    {
        Assert.Throws<System.ArgumentOutOfRangeException>(() => new NetSwitch(new NetSwitchOptions { GuestSteering = (NetSwitchSteering)7 }));
    }

    private static void Learn(GuestLan lan)
    {
        for (int g = 0; g < lan.Guests.Length; g++)
        {
            Assert.True(lan[g].Driver.TrySend(0, TestFrames.Build(MacAddress.Broadcast, GuestLan.HomeMac(g), 60, -1), default));
            lan.PollAll();
        }

        for (int g = 0; g < lan.Guests.Length; g++)
        {
            lan.Drain(g);
        }
    }
}
