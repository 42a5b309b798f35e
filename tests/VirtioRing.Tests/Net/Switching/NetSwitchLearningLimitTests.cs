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

/// <summary>Per-port learned-address limits and room for static addresses (review 4, finding 7).</summary>
public class NetSwitchLearningLimitTests
{
    private readonly ManualClock _clock = new();

    [Fact]
    public void Learn_OneGuestSendsFromManyRandomAddresses_OtherPortsStillLearnedAndStaticPortsStillAdded()
    {
        var sw = new NetSwitch(new NetSwitchOptions { GuestPortQueues = 2, Clock = _clock });
        var g = Guests(sw, 3);
        var random = new Random(11);
        for (int i = 0; i < 6000; i++)
        {
            var spoofed = new MacAddress(0x0200_0000_0000UL | (ulong)(uint)random.Next());
            Assert.Equal(NetTransmitStatus.Sent, Send(g[0].Port, Build(MacAddress.Broadcast, spoofed)));   // still forwarded
        }

        Send(g[1].Port, Build(MacAddress.Broadcast, Mac(1)));

        Assert.True(sw.TryGetPort(Mac(1), out NetSwitchPort? at));
        Assert.Same(g[1].Port, at);
        Assert.Equal(6000, g[1].Host.Delivered.Count);
        NetSwitchPort late = sw.AddGuestPort("late", Mac(50), 1);   // a static entry always has room
        Assert.True(sw.TryGetPort(Mac(50), out at));
        Assert.Same(late, at);
    }

    [Fact]
    public void Learn_PortOverItsLimit_StopsLearningCountsAndForwards()
    {
        var sw = new NetSwitch(new NetSwitchOptions { GuestPortQueues = 2, Clock = _clock, MaxLearnedAddressesPerPort = 3 });
        var g = Guests(sw, 2);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(NetTransmitStatus.Sent, Send(g[0].Port, Build(MacAddress.Broadcast, Mac(100 + i))));
        }

        Send(g[0].Port, Build(MacAddress.Broadcast, Mac(104)));   // still over the limit: counted again

        Assert.Equal(3, g[0].Port.MaxLearnedAddresses);
        Assert.True(sw.TryGetPort(Mac(102), out _));
        Assert.False(sw.TryGetPort(Mac(103), out _));
        Assert.Equal(6, g[1].Host.Delivered.Count);
        Assert.Equal(3, g[0].Port.GetCounters().LearningRefused);
        Assert.Equal(0, sw.MacTableOverflows);

        Send(g[0].Port, Build(MacAddress.Broadcast, Mac(100)));   // an address it already has is refreshed, not refused
        Assert.Equal(3, g[0].Port.GetCounters().LearningRefused);

        g[0].Port.MaxLearnedAddresses = 4;                       // the host trusts this port more (a TAP bridge, say)
        Send(g[0].Port, Build(MacAddress.Broadcast, Mac(103)));
        Assert.True(sw.TryGetPort(Mac(103), out _));
    }

    [Fact]
    public void Learn_AddressMovesToAPortAtItsLimit_NotLearnedThereAndOldPortFreesItsSlot()
    {
        var sw = new NetSwitch(new NetSwitchOptions { GuestPortQueues = 2, Clock = _clock, MaxLearnedAddressesPerPort = 1 });
        var g = Guests(sw, 3);
        Send(g[0].Port, Build(MacAddress.Broadcast, Mac(100)));
        Send(g[1].Port, Build(MacAddress.Broadcast, Mac(101)));
        Send(g[1].Port, Build(MacAddress.Broadcast, Mac(100)));   // g1 is at its limit: Mac(100) stays on g0

        Assert.True(sw.TryGetPort(Mac(100), out NetSwitchPort? at));
        Assert.Same(g[0].Port, at);
        sw.RemovePort(g[1].Port);                                  // frees g1's entry
        Send(g[2].Port, Build(MacAddress.Broadcast, Mac(100)));   // moves to g2 (below its limit); g0 is back to 0
        Send(g[0].Port, Build(MacAddress.Broadcast, Mac(105)));
        Assert.True(sw.TryGetPort(Mac(105), out at));
        Assert.Same(g[0].Port, at);
    }

    [Fact]
    public void Options_MaxLearnedAddressesPerPort_DefaultSharesTheTableAndIsValidated()
    {
        var sw = new NetSwitch(new NetSwitchOptions());
        Assert.Equal(4096 / 64, sw.AddGuestPort("a").MaxLearnedAddresses);
        Assert.Throws<ArgumentOutOfRangeException>(() => new NetSwitch(new NetSwitchOptions { MaxLearnedAddressesPerPort = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => sw.AddGuestPort("b").MaxLearnedAddresses = -1);
    }
}
