using System;
using System.Collections.Generic;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Switching;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;
using static VirtioRing.Tests.Net.Switching.SwitchFrames;
using static VirtioRing.Tests.Net.Switching.SwitchGuests;

namespace VirtioRing.Tests.Net.Switching;

/// <summary>A held frame the sender gave up does not make a later frame skip ports (review 4, finding 10).</summary>
public class NetSwitchHoldIdentityTests
{
    private static (NetSwitch Switch, (NetSwitchPort Port, FakeHost Host)[] Guests) HeldForG2()
    {
        var sw = new NetSwitch(new NetSwitchOptions { GuestPortQueues = 2 });
        var g = Guests(sw, 3);
        g[2].Host.NoBuffers = true;
        return (sw, g);
    }

    [Fact]
    public void Transmit_DifferentFrameAfterAbandonedHold_ReachesEveryPort()
    {
        (_, var g) = HeldForG2();
        byte[] first = Build(MacAddress.Broadcast, Mac(0), 60, 1);
        byte[] second = Build(MacAddress.Broadcast, Mac(0), 60, 2);   // same addresses and length, other payload (another ARP target)
        Assert.Equal(NetTransmitStatus.Busy, Send(g[0].Port, first));
        Assert.Single(g[1].Host.Delivered);

        // The engine dropped the held chain (a device reset) without telling the switch, and the guest sends anew.
        g[2].Host.NoBuffers = false;
        Assert.Equal(NetTransmitStatus.Sent, Send(g[0].Port, second));

        Assert.Equal(2, g[1].Host.Delivered.Count);
        Assert.Equal(second, g[1].Host.Delivered[1].Bytes);
        Assert.Equal(second, Assert.Single(g[2].Host.Delivered).Bytes);
        Assert.Equal(2, g[0].Port.GetCounters().ReceivedFrames);
    }

    [Fact]
    public void Transmit_SameFrameAgainAfterBusy_OnlyToThePortsWithoutIt()
    {
        (_, var g) = HeldForG2();
        byte[] frame = Build(MacAddress.Broadcast, Mac(0), 60, 1);
        Assert.Equal(NetTransmitStatus.Busy, Send(g[0].Port, frame));
        g[2].Host.NoBuffers = false;
        Assert.Equal(NetTransmitStatus.Sent, Send(g[0].Port, frame));

        Assert.Single(g[1].Host.Delivered);
        Assert.Single(g[2].Host.Delivered);
        Assert.Equal(1, g[0].Port.GetCounters().ReceivedFrames);
    }

    [Fact]
    public void AbandonHeld_IdenticalFrameSentAnew_ReachesEveryPort()
    {
        (_, var g) = HeldForG2();
        byte[] frame = Build(MacAddress.Broadcast, Mac(0), 60, 1);
        Assert.Equal(NetTransmitStatus.Busy, Send(g[0].Port, frame));

        ((INetBackendHoldAware)g[0].Port).AbandonHeld(0);   // what the engine calls when it forgets the held chain
        g[2].Host.NoBuffers = false;
        Assert.Equal(NetTransmitStatus.Sent, Send(g[0].Port, frame));

        Assert.Equal(2, g[1].Host.Delivered.Count);
        Assert.Single(g[2].Host.Delivered);
        Assert.Equal(2, g[0].Port.GetCounters().ReceivedFrames);
    }
}
