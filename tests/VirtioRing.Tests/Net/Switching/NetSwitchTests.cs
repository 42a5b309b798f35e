using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Net.Switching;
using Xunit;
using static VirtioRing.Tests.Net.Switching.SwitchFrames;

namespace VirtioRing.Tests.Net.Switching;

public class NetSwitchTests
{
    private readonly ManualClock _clock = new();

    private NetSwitch NewSwitch(NetSwitchFlowControl flow = NetSwitchFlowControl.Lossless) =>
        new(new NetSwitchOptions { FlowControl = flow, Clock = _clock, MacAgingTime = TimeSpan.FromSeconds(10), GuestPortQueues = 4 });

    private static (NetSwitchPort Port, FakeHost Host)[] Guests(NetSwitch sw, int n)
    {
        var guests = new (NetSwitchPort, FakeHost)[n];
        for (int i = 0; i < n; i++)
        {
            NetSwitchPort port = sw.AddGuestPort("g" + i);
            var host = new FakeHost();
            ((INetBackend)port).Attach(host);
            guests[i] = (port, host);
        }

        return guests;
    }

    private static NetTransmitStatus Send(NetSwitchPort port, byte[] frame, int queue = 0, VirtioNetHeader header = default)
    {
        var backend = (INetBackend)port;
        NetTransmitStatus s = backend.Transmit(queue, NetFrame.FromSpan(header, frame));
        backend.FlushTransmit(queue);
        return s;
    }

    [Fact]
    public void Transmit_KnownUnicast_DeliveredToThatPortOnlyByteForByte()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 4);
        Send(g[2].Port, Build(MacAddress.Broadcast, Mac(2)));   // learn Mac(2) on port 2
        foreach (var x in g)
        {
            x.Host.Delivered.Clear();
        }

        byte[] frame = Build(Mac(2), Mac(0), 200, 7);
        Assert.Equal(NetTransmitStatus.Sent, Send(g[0].Port, frame));

        Assert.Single(g[2].Host.Delivered);
        Assert.Equal(frame, g[2].Host.Delivered[0].Bytes);
        Assert.Equal(-1, g[2].Host.Delivered[0].Queue);
        Assert.Empty(g[0].Host.Delivered);
        Assert.Empty(g[1].Host.Delivered);
        Assert.Empty(g[3].Host.Delivered);
        Assert.Equal(1, g[2].Port.GetCounters().ForwardedFrames);
        Assert.Equal(200, g[2].Port.GetCounters().ForwardedBytes);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Transmit_BroadcastOrUnknownUnicast_FloodedToAllButSender(bool broadcast)
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 5);
        byte[] frame = Build(broadcast ? MacAddress.Broadcast : Mac(99), Mac(1));
        Assert.Equal(NetTransmitStatus.Sent, Send(g[1].Port, frame));

        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(i == 1 ? 0 : 1, g[i].Host.Delivered.Count);
        }

        Assert.Equal(1, g[1].Port.GetCounters().FloodedFrames);
    }

    [Fact]
    public void Transmit_Multicast_Flooded()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 3);
        Send(g[0].Port, Build(new MacAddress(0x0100_5E00_0001UL), Mac(0)));
        Assert.Empty(g[0].Host.Delivered);
        Assert.Single(g[1].Host.Delivered);
        Assert.Single(g[2].Host.Delivered);
    }

    [Fact]
    public void Transmit_DestinationLearnedOnSendersOwnPort_DroppedNeverReturned()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 3);
        Send(g[0].Port, Build(MacAddress.Broadcast, Mac(5)));   // Mac(5) lives behind port 0
        foreach (var x in g)
        {
            x.Host.Delivered.Clear();
        }

        Assert.Equal(NetTransmitStatus.Dropped, Send(g[0].Port, Build(Mac(5), Mac(0))));
        Assert.All(g, x => Assert.Empty(x.Host.Delivered));
        Assert.Equal(1, g[0].Port.GetCounters().DroppedNoRoute);
    }

    [Fact]
    public void Learning_AddressMovesToAnotherPort_FollowsTheMove()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 3);
        Send(g[1].Port, Build(MacAddress.Broadcast, Mac(7)));
        Assert.True(sw.TryGetPort(Mac(7), out NetSwitchPort? at));
        Assert.Same(g[1].Port, at);

        Send(g[2].Port, Build(MacAddress.Broadcast, Mac(7)));   // the guest moved
        Assert.True(sw.TryGetPort(Mac(7), out at));
        Assert.Same(g[2].Port, at);
        foreach (var x in g)
        {
            x.Host.Delivered.Clear();
        }

        Send(g[0].Port, Build(Mac(7), Mac(0)));
        Assert.Empty(g[1].Host.Delivered);
        Assert.Single(g[2].Host.Delivered);
    }

    [Fact]
    public void Aging_AddressNotSeenForAgingTime_FloodedAgainThenSwept()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 3);
        Send(g[1].Port, Build(MacAddress.Broadcast, Mac(7)));
        _clock.Advance(TimeSpan.FromSeconds(9));
        Assert.True(sw.TryGetPort(Mac(7), out _));
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.False(sw.TryGetPort(Mac(7), out _));
        foreach (var x in g)
        {
            x.Host.Delivered.Clear();
        }

        Send(g[0].Port, Build(Mac(7), Mac(0)));
        Assert.Single(g[1].Host.Delivered);
        Assert.Single(g[2].Host.Delivered);   // flooded: unknown again
        Assert.Equal(1, sw.SweepExpiredAddresses());   // Mac(7); Mac(0) was just seen
    }

    [Fact]
    public void Aging_TrafficKeepsAddressFresh()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 2);
        for (int i = 0; i < 5; i++)
        {
            Send(g[1].Port, Build(MacAddress.Broadcast, Mac(7)));
            _clock.Advance(TimeSpan.FromSeconds(6));
        }

        Assert.True(sw.TryGetPort(Mac(7), out NetSwitchPort? at));
        Assert.Same(g[1].Port, at);
    }

    [Fact]
    public void Lossless_FloodWithOneReceiverOutOfBuffers_BusyThenRetryDeliversEachRemainingPortOnce()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 4);
        g[2].Host.NoBuffers = true;
        byte[] frame = Build(MacAddress.Broadcast, Mac(0), 80, 3);

        Assert.Equal(NetTransmitStatus.Busy, Send(g[0].Port, frame, queue: 1));
        Assert.Single(g[1].Host.Delivered);
        Assert.Single(g[3].Host.Delivered);
        Assert.Empty(g[2].Host.Delivered);
        Assert.Equal(1, g[2].Host.WaiterCount);
        Assert.Empty(g[0].Host.Wakes);

        Assert.Equal(NetTransmitStatus.Busy, Send(g[0].Port, frame, queue: 1));   // still no buffers: nobody gets it twice
        Assert.Single(g[1].Host.Delivered);

        g[2].Host.PostBuffers();
        Assert.NotEmpty(g[0].Host.Wakes);                                       // the waiter woke the sender's queue
        Assert.All(g[0].Host.Wakes, q => Assert.Equal(1, q));
        Assert.Equal(NetTransmitStatus.Sent, Send(g[0].Port, frame, queue: 1));
        Assert.Single(g[1].Host.Delivered);
        Assert.Single(g[2].Host.Delivered);
        Assert.Single(g[3].Host.Delivered);
        Assert.Equal(frame, g[2].Host.Delivered[0].Bytes);

        NetSwitchPortCounters c = g[0].Port.GetCounters();
        Assert.Equal(1, c.ReceivedFrames);
        Assert.Equal(1, c.HeldFrames);
        Assert.Equal(0, g[2].Port.GetCounters().DroppedNoBuffers);
    }

    [Fact]
    public void Lossless_UnicastNoBuffers_BusyAndRetryDelivers()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 2);
        Send(g[1].Port, Build(MacAddress.Broadcast, Mac(1)));
        g[1].Host.NoBuffers = true;
        byte[] frame = Build(Mac(1), Mac(0));
        Assert.Equal(NetTransmitStatus.Busy, Send(g[0].Port, frame));
        g[1].Host.PostBuffers();
        Assert.Equal(NetTransmitStatus.Sent, Send(g[0].Port, frame));
        Assert.Single(g[1].Host.Delivered);
    }

    [Fact]
    public void Lossless_BuffersAlreadyThereButStillRefused_BusyAndSenderWokenByItself()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 2);
        g[1].Host.NoBuffers = true;
        g[1].Host.BuffersAlreadyThere = true;
        Assert.Equal(NetTransmitStatus.Busy, Send(g[0].Port, Build(MacAddress.Broadcast, Mac(0)), queue: 2));
        Assert.Equal([2], g[0].Host.Wakes);
    }

    [Fact]
    public void Lossless_DifferentFrameOfferedAfterBusy_TreatedAsNewFrame()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 3);
        g[2].Host.NoBuffers = true;
        Assert.Equal(NetTransmitStatus.Busy, Send(g[0].Port, Build(MacAddress.Broadcast, Mac(0), 64)));
        g[2].Host.NoBuffers = false;
        Assert.Equal(NetTransmitStatus.Sent, Send(g[0].Port, Build(MacAddress.Broadcast, Mac(0), 70)));
        Assert.Equal(2, g[1].Host.Delivered.Count);   // the new frame is not mistaken for the held one
        Assert.Equal(2, g[0].Port.GetCounters().ReceivedFrames);
    }

    [Fact]
    public void DropAndCount_NoBuffers_DroppedAndCounted()
    {
        NetSwitch sw = NewSwitch(NetSwitchFlowControl.DropAndCount);
        var g = Guests(sw, 3);
        Send(g[1].Port, Build(MacAddress.Broadcast, Mac(1)));
        g[1].Host.NoBuffers = true;
        Assert.Equal(NetTransmitStatus.Dropped, Send(g[0].Port, Build(Mac(1), Mac(0))));
        Assert.Equal(NetTransmitStatus.Sent, Send(g[0].Port, Build(MacAddress.Broadcast, Mac(0))));   // flood: others got it
        Assert.Equal(2, g[1].Port.GetCounters().DroppedNoBuffers);
        Assert.Equal(0, g[1].Host.WaiterCount);
        Assert.Single(g[2].Host.Delivered, f => f.Bytes[11] == 0);
    }

    [Theory]
    [InlineData(NetDeliveryStatus.Filtered)]
    [InlineData(NetDeliveryStatus.QueueDown)]
    [InlineData(NetDeliveryStatus.BadFrame)]
    public void Transmit_ReceiverRefuses_CountedOnReceiver(NetDeliveryStatus answer)
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 2);
        g[1].Host.Answer = answer;
        Send(g[0].Port, Build(MacAddress.Broadcast, Mac(0)));
        NetSwitchPortCounters c = g[1].Port.GetCounters();
        Assert.Equal(answer == NetDeliveryStatus.Filtered ? 1 : 0, c.DroppedFiltered);
        Assert.Equal(answer == NetDeliveryStatus.QueueDown ? 1 : 0, c.DroppedQueueDown);
        Assert.Equal(answer == NetDeliveryStatus.BadFrame ? 1 : 0, c.DroppedBadFrame);
    }

    private sealed class DropTo(NetSwitchPort victim) : INetSwitchFilter
    {
        public int Calls;

        public NetSwitchFilterVerdict Inspect(in NetFrame frame, NetSwitchPort source, NetSwitchPort destination)
        {
            Calls++;
            return destination == victim ? NetSwitchFilterVerdict.Drop : NetSwitchFilterVerdict.Accept;
        }
    }

    [Fact]
    public void IngressFilter_Drop_NotDeliveredAndCountedOnFilterPort()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 3);
        var filter = new DropTo(g[2].Port);
        g[0].Port.IngressFilter = filter;
        Send(g[0].Port, Build(MacAddress.Broadcast, Mac(0)));
        Assert.Single(g[1].Host.Delivered);
        Assert.Empty(g[2].Host.Delivered);
        Assert.Equal(2, filter.Calls);
        Assert.Equal(1, g[0].Port.GetCounters().DroppedFiltered);
    }

    [Fact]
    public void EgressFilter_Drop_NotDeliveredAndCountedOnFilterPort()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 3);
        g[2].Port.EgressFilter = new DropTo(g[2].Port);
        Send(g[0].Port, Build(MacAddress.Broadcast, Mac(0)));
        Send(g[1].Port, Build(MacAddress.Broadcast, Mac(1)));
        Assert.Empty(g[2].Host.Delivered);
        Assert.Equal(2, g[2].Port.GetCounters().DroppedFiltered);
        g[2].Port.EgressFilter = null;
        Send(g[1].Port, Build(MacAddress.Broadcast, Mac(1)));
        Assert.Single(g[2].Host.Delivered);
    }

    [Fact]
    public void FlushTransmit_FlushesEachTouchedReceiverOnceAndOnlyThose()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 4);
        Send(g[1].Port, Build(MacAddress.Broadcast, Mac(1)));
        Send(g[2].Port, Build(MacAddress.Broadcast, Mac(2)));
        foreach (var x in g)
        {
            x.Host.Delivered.Clear();
        }

        int[] before = g.Select(x => x.Host.Flushes).ToArray();
        var tx = (INetBackend)g[0].Port;
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(NetTransmitStatus.Sent, tx.Transmit(0, NetFrame.FromSpan(default, Build(Mac(1 + (i % 2)), Mac(0)))));
        }

        Assert.Equal(before, g.Select(x => x.Host.Flushes).ToArray());   // nothing published before the flush
        tx.FlushTransmit(0);
        Assert.Equal(before[1] + 1, g[1].Host.Flushes);
        Assert.Equal(before[2] + 1, g[2].Host.Flushes);
        Assert.Equal(before[3], g[3].Host.Flushes);
        tx.FlushTransmit(0);
        Assert.Equal(before[1] + 1, g[1].Host.Flushes);
    }

    [Fact]
    public void BindPeerQueues_FramesCarryTheBoundPairAsHint()
    {
        NetSwitch sw = NewSwitch();
        NetSwitchPort a = sw.AddGuestPort("a", Mac(10), 4), b = sw.AddGuestPort("b", Mac(11), 4), c = sw.AddGuestPort("c", Mac(12), 4);
        FakeHost ha = new(), hb = new(), hc = new();
        ((INetBackend)a).Attach(ha);
        ((INetBackend)b).Attach(hb);
        ((INetBackend)c).Attach(hc);
        sw.BindPeerQueues(a, 1, b, 3);

        Send(a, Build(Mac(11), Mac(10)), queue: 1);    // fast path: queue 1 of a is bound to b alone
        Send(b, Build(Mac(10), Mac(11)), queue: 0);    // ordinary path, still the bound hint
        Send(c, Build(Mac(11), Mac(12)), queue: 1);    // not bound: the receiver steers
        Send(a, Build(Mac(12), Mac(10)), queue: 1);    // bound queue, other destination: looked up

        Assert.Equal([3, -1], hb.Delivered.Select(f => f.Queue).ToArray());
        Assert.Equal([1], ha.Delivered.Select(f => f.Queue).ToArray());
        Assert.Single(hc.Delivered);

        NetSwitchPeerQueue only = Assert.Single(a.GetPeerQueues());
        Assert.Same(b, only.Peer);
        Assert.Equal(Mac(11), only.PeerMac);
        Assert.Equal(1, only.Pair);
        var selector = new DestinationMacTxQueueSelector(8);
        Assert.Equal(1, a.AssignPeerQueues(selector));
        Assert.Equal(1, selector.SelectTransmitQueue(Build(Mac(11), Mac(10)), 4));

        Assert.True(sw.UnbindPeerQueues(a, b));
        Send(a, Build(Mac(11), Mac(10)), queue: 1);
        Assert.Equal(-1, hb.Delivered[^1].Queue);
        Assert.Empty(a.GetPeerQueues());
    }

    [Fact]
    public void BindPeerQueues_PortWithoutStaticMac_Throws()
    {
        NetSwitch sw = NewSwitch();
        NetSwitchPort a = sw.AddGuestPort("a"), b = sw.AddGuestPort("b", Mac(1), 2);
        Assert.Throws<InvalidOperationException>(() => sw.BindPeerQueues(a, 0, b, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => sw.BindPeerQueues(b, 5, a, 0));
    }

    [Fact]
    public void StaticMac_FrameFromAnotherPortWithThatSource_DoesNotMoveIt()
    {
        NetSwitch sw = NewSwitch();
        NetSwitchPort a = sw.AddGuestPort("a", Mac(10), 1);
        var g = Guests(sw, 2);
        Send(g[0].Port, Build(MacAddress.Broadcast, Mac(10)));   // spoofed source
        Assert.True(sw.TryGetPort(Mac(10), out NetSwitchPort? at));
        Assert.Same(a, at);
        Assert.Throws<ArgumentException>(() => sw.AddGuestPort("dup", Mac(10), 1));
    }

    [Fact]
    public void Transmit_RuntFrame_DroppedAsBadFrame()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 2);
        Assert.Equal(NetTransmitStatus.Dropped, Send(g[0].Port, new byte[11]));
        Assert.Equal(1, g[0].Port.GetCounters().DroppedBadFrame);
        Assert.Empty(g[1].Host.Delivered);
    }

    [Fact]
    public void RemovePort_ForgetsAddressesDropsItsTrafficAndWakesHeldSenders()
    {
        NetSwitch sw = NewSwitch();
        var g = Guests(sw, 3);
        Send(g[2].Port, Build(MacAddress.Broadcast, Mac(2)));
        g[2].Host.NoBuffers = true;
        Assert.Equal(NetTransmitStatus.Busy, Send(g[0].Port, Build(Mac(2), Mac(0))));

        Assert.True(sw.RemovePort(g[2].Port));
        Assert.False(sw.RemovePort(g[2].Port));
        Assert.Equal([0], g[0].Host.Wakes);                // the held sender is woken...
        Assert.False(sw.TryGetPort(Mac(2), out _));
        g[1].Host.Delivered.Clear();
        Assert.Equal(NetTransmitStatus.Sent, Send(g[0].Port, Build(Mac(2), Mac(0))));   // ...and its frame is flooded to who is left
        Assert.Single(g[1].Host.Delivered);
        Assert.Equal(NetTransmitStatus.Dropped, Send(g[2].Port, Build(MacAddress.Broadcast, Mac(2))));
        Assert.Equal(1, g[2].Port.GetCounters().DroppedQueueDown);
        Assert.Equal(2, sw.PortCount);
    }

    [Fact]
    public async Task RemovePort_MidTraffic_OtherPortsKeepForwardingAndNothingThrows()
    {
        NetSwitch sw = new(new NetSwitchOptions { FlowControl = NetSwitchFlowControl.DropAndCount, GuestPortQueues = 1 });
        var g = Guests(sw, 4);
        using var stop = new CancellationTokenSource();
        Task[] senders = Enumerable.Range(0, 3).Select(i => Task.Run(() =>
        {
            var tx = (INetBackend)g[i].Port;
            byte[][] frames = Enumerable.Range(0, 4).Select(d => Build(d == 3 ? MacAddress.Broadcast : Mac(d), Mac(i))).ToArray();
            int n = 0;
            while (!stop.IsCancellationRequested)
            {
                tx.Transmit(0, NetFrame.FromSpan(default, frames[n++ % 4]));
                if (n % 8 == 0)
                {
                    tx.FlushTransmit(0);
                }
            }
        })).ToArray();

        // Waits on what happened, not on time: on a loaded machine the senders may not run for a while.
        Assert.True(await DeliveredWithin(g[3].Host, TimeSpan.FromSeconds(30)), "port 3 received nothing before its removal");
        Assert.True(sw.RemovePort(g[3].Port));
        int atRemoval = g[3].Host.DeliveredCount;

        await Task.Delay(50);
        NetSwitchPort added = sw.AddGuestPort("late", null, 1);
        var lateHost = new FakeHost();
        ((INetBackend)added).Attach(lateHost);
        bool lateReceived = await DeliveredWithin(lateHost, TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await Task.WhenAll(senders);

        Assert.True(g[3].Host.Delivered.Count <= atRemoval + 3, "at most one frame in flight per sender after removal");
        Assert.True(lateReceived, "the port added after the removal received nothing");
        Assert.True(g[0].Host.Delivered.Count > 0 && g[1].Host.Delivered.Count > 0);
        Assert.All(g[1].Host.Delivered, f => Assert.NotEqual(1, f.Bytes[11]));   // never its own frame
    }

    private static async Task<bool> DeliveredWithin(FakeHost host, TimeSpan limit)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (host.DeliveredCount > 0)
            {
                return true;
            }

            await Task.Delay(5);
        }

        return false;
    }

    [Fact]
    public async Task Lossless_ConcurrentSendersAndStarvedReceivers_EveryFrameExactlyOnce()
    {
        NetSwitch sw = new(new NetSwitchOptions { GuestPortQueues = 2 });
        var g = Guests(sw, 4);
        const int PerSender = 3000;
        using var stop = new CancellationTokenSource();
        Task starver = Task.Run(async () =>
        {
            var random = new Random(5);
            while (!stop.IsCancellationRequested)
            {
                FakeHost h = g[random.Next(4)].Host;
                h.NoBuffers = true;
                await Task.Yield();
                h.PostBuffers();
            }
        });

        Task[] senders = Enumerable.Range(0, 4).Select(i => Task.Run(() =>
        {
            var tx = (INetBackend)g[i].Port;
            for (int n = 0; n < PerSender; n++)
            {
                MacAddress dst = n % 5 == 0 ? MacAddress.Broadcast : Mac((i + 1 + (n % 3)) % 4);
                byte[] frame = Build(dst, Mac(i), 64);
                System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(14), n);
                while (tx.Transmit(n & 1, NetFrame.FromSpan(default, frame)) == NetTransmitStatus.Busy)
                {
                    Thread.Yield();   // an engine would wait for the wake-up; retrying is the same to the switch
                }

                tx.FlushTransmit(n & 1);
            }
        })).ToArray();

        await Task.WhenAll(senders);
        await stop.CancelAsync();
        await starver;

        for (int r = 0; r < 4; r++)
        {
            var seen = new System.Collections.Generic.HashSet<(int, int)>();
            foreach (CapturedFrame f in g[r].Host.Delivered)
            {
                int sender = f.Bytes[11];
                Assert.NotEqual(r, sender);
                Assert.True(seen.Add((sender, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(f.Bytes.AsSpan(14)))), "duplicate");
            }

            Assert.Equal(0, g[r].Port.GetCounters().DroppedNoBuffers);
        }

        // Every frame reached every port the rules say (all learned after each sender's first broadcast).
        int total = g.Sum(x => x.Host.Delivered.Count);
        Assert.True(total >= 4 * PerSender, $"{total} deliveries");
    }

    [Fact]
    public void Options_GuestPortQueues_DefaultCoversTheMostQueuePairs()
    {
        Assert.Equal(64, new NetSwitchOptions().GuestPortQueues);
        Assert.Equal(64, new NetSwitch().AddGuestPort("a").QueueCount);
    }

    [Fact]
    public void AddGuestPort_MoreThanMaxPorts_Throws()
    {
        NetSwitch sw = new(new NetSwitchOptions { MaxPorts = 2 });
        sw.AddGuestPort("a");
        sw.AddGuestPort("b");
        Assert.Throws<InvalidOperationException>(() => sw.AddGuestPort("c"));
    }

    [Fact]
    public void Constructor_BadOptions_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NetSwitch(new NetSwitchOptions { MaxPorts = 65 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NetSwitch(new NetSwitchOptions { MacAgingTime = TimeSpan.Zero }));
        Assert.Throws<ArgumentNullException>(() => new NetSwitch(null!));
    }

    [Fact]
    public void GuestPort_AttachTwice_Throws()
    {
        NetSwitch sw = NewSwitch();
        var port = (INetBackend)sw.AddGuestPort("a");
        port.Attach(new FakeHost());
        Assert.Throws<InvalidOperationException>(() => port.Attach(new FakeHost()));
        Assert.Equal(NetOffloads.All, port.Offloads);
        Assert.Equal(0, port.Receive(0, 64));
    }

    [Fact]
    public void MacTable_Full_NewAddressesFloodedNotLearned()
    {
        NetSwitch sw = new(new NetSwitchOptions { MacTableCapacity = 4, Clock = _clock, MaxLearnedAddressesPerPort = 100 });
        var g = Guests(sw, 2);
        for (int i = 0; i < 10; i++)
        {
            Send(g[0].Port, Build(MacAddress.Broadcast, Mac(100 + i)));
        }

        Assert.Equal(4, sw.MacCount);
        Assert.True(sw.MacTableOverflows > 0);
        _clock.Advance(TimeSpan.FromSeconds(400));
        Send(g[0].Port, Build(MacAddress.Broadcast, Mac(200)));   // expired ones are swept to make room
        Assert.True(sw.TryGetPort(Mac(200), out _));
    }
}
