using System;
using System.Collections.Generic;
using System.Linq;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Switching;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using VirtioRing.Tests.Net.Offload;
using Xunit;
using static VirtioRing.Tests.Net.Switching.SwitchFrames;

namespace VirtioRing.Tests.Net.Switching;

public class NetSwitchBackendPortTests
{
    private sealed class CountingNotifier : INotifier
    {
        public int Count;

        public void Notify() => Count++;
    }

    private static (NetSwitch Switch, NetSwitchPort Guest, FakeHost GuestHost) SwitchWithGuest()
    {
        var sw = new NetSwitch(new NetSwitchOptions { GuestPortQueues = 2 });
        NetSwitchPort guest = sw.AddGuestPort("guest");
        var host = new FakeHost();
        ((INetBackend)guest).Attach(host);
        return (sw, guest, host);
    }

    private static byte[] WithMacs(byte[] frame, MacAddress destination, MacAddress source)
    {
        destination.WriteTo(frame);
        source.WriteTo(frame.AsSpan(6));
        return frame;
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void Transmit_SuperFrameToBackendWithoutSegmentation_ArrivesAsValidSegments(bool ipv6, bool tcp)
    {
        (NetSwitch sw, NetSwitchPort guest, _) = SwitchWithGuest();
        var tap = new FakeBackend(NetOffloads.None);
        sw.AddBackendPort("tap", tap);

        var spec = new PacketSpec(ipv6, tcp, 10000, Fill: ChecksumFill.Partial);
        byte[] frame = WithMacs(Packets.Build(spec), MacAddress.Broadcast, Mac(1));
        int l3 = Packets.L3Offset(spec), l4 = Packets.L4Offset(spec), hdr = Packets.HeaderLength(spec);
        var header = new VirtioNetHeader
        {
            Flags = NetHeaderFlags.NeedsChecksum,
            GsoType = tcp ? (ipv6 ? NetGsoType.TcpV6 : NetGsoType.TcpV4) : NetGsoType.UdpL4,
            GsoSize = 1400,
            HeaderLength = (ushort)hdr,
            ChecksumStart = (ushort)l4,
            ChecksumOffset = (ushort)(tcp ? 16 : 6),
        };

        var port = (INetBackend)guest;
        Assert.Equal(NetTransmitStatus.Sent, port.Transmit(0, NetFrame.FromSpan(header, frame)));
        port.FlushTransmit(0);

        Assert.Equal((10000 + 1399) / 1400, tap.Transmitted.Count);
        Assert.Equal(1, tap.TransmitFlushes);
        int payload = 0;
        foreach (CapturedFrame seg in tap.Transmitted)
        {
            Assert.Equal(default, seg.Header);   // nothing left for the backend to do
            Assert.True(seg.Bytes.Length <= hdr + 1400);
            Assert.Equal(frame.AsSpan(0, 12).ToArray(), seg.Bytes.AsSpan(0, 12).ToArray());
            Assert.True(Packets.TransportVerifies(seg.Bytes, l3, l4, ipv6, tcp ? (byte)6 : (byte)17));
            payload += seg.Bytes.Length - hdr;
        }

        Assert.Equal(10000, payload);
        Assert.Equal(1, sw.TryGetPort(Mac(1), out NetSwitchPort? learned) ? 1 : 0);
        Assert.Same(guest, learned);
    }

    [Fact]
    public void Transmit_SuperFrameToTsoBackend_PassedThroughUnchanged()
    {
        (NetSwitch sw, NetSwitchPort guest, _) = SwitchWithGuest();
        var tap = new FakeBackend(NetOffloads.All);
        sw.AddBackendPort("tap", tap);
        var spec = new PacketSpec(false, true, 5000, Fill: ChecksumFill.Partial);
        byte[] frame = WithMacs(Packets.Build(spec), MacAddress.Broadcast, Mac(1));
        var header = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, GsoType = NetGsoType.TcpV4, GsoSize = 1448, ChecksumStart = 34, ChecksumOffset = 16 };
        ((INetBackend)guest).Transmit(0, NetFrame.FromSpan(header, frame));
        CapturedFrame only = Assert.Single(tap.Transmitted);
        Assert.Equal(header, only.Header);
        Assert.Equal(frame, only.Bytes);
    }

    [Fact]
    public void Transmit_NeedsChecksumToBackendWithoutChecksum_CompletedInSoftware()
    {
        (NetSwitch sw, NetSwitchPort guest, _) = SwitchWithGuest();
        var tap = new FakeBackend(NetOffloads.Tso4);
        sw.AddBackendPort("tap", tap);
        var spec = new PacketSpec(false, false, 300, Fill: ChecksumFill.Partial);
        byte[] frame = WithMacs(Packets.Build(spec), MacAddress.Broadcast, Mac(1));
        var header = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = (ushort)Packets.L4Offset(spec), ChecksumOffset = 6 };
        ((INetBackend)guest).Transmit(0, NetFrame.FromSpan(header, frame));
        CapturedFrame only = Assert.Single(tap.Transmitted);
        Assert.Equal(NetHeaderFlags.None, only.Header.Flags);
        Assert.True(Packets.TransportVerifies(only.Bytes, Packets.L3Offset(spec), Packets.L4Offset(spec), false, 17));
    }

    [Fact]
    public void Transmit_BadSuperFrameToNonTsoBackend_DroppedAsBadFrame()
    {
        (NetSwitch sw, NetSwitchPort guest, _) = SwitchWithGuest();
        var tap = new FakeBackend(NetOffloads.None);
        NetSwitchPort tapPort = sw.AddBackendPort("tap", tap);
        byte[] frame = Build(MacAddress.Broadcast, Mac(1), 200);   // not TCP/IP at all
        var header = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, GsoType = NetGsoType.TcpV4, GsoSize = 100, ChecksumStart = 34, ChecksumOffset = 16 };
        ((INetBackend)guest).Transmit(0, NetFrame.FromSpan(header, frame));
        Assert.Empty(tap.Transmitted);
        Assert.Equal(1, tapPort.GetCounters().DroppedBadFrame);
    }

    [Fact]
    public void Lossless_BusyBackendMidSegmentation_RetrySendsOnlyRemainingSegments()
    {
        (NetSwitch sw, NetSwitchPort guest, FakeHost guestHost) = SwitchWithGuest();
        var tap = new FakeBackend(NetOffloads.None) { BusyAfter = 3 };
        sw.AddBackendPort("tap", tap);
        var spec = new PacketSpec(false, true, 7000, Fill: ChecksumFill.Partial);
        byte[] frame = WithMacs(Packets.Build(spec), MacAddress.Broadcast, Mac(1));
        var header = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, GsoType = NetGsoType.TcpV4, GsoSize = 1000, ChecksumStart = 34, ChecksumOffset = 16 };
        var port = (INetBackend)guest;

        Assert.Equal(NetTransmitStatus.Busy, port.Transmit(1, NetFrame.FromSpan(header, frame)));
        Assert.Equal(3, tap.Transmitted.Count);
        tap.BusyAfter = int.MaxValue;
        tap.Host!.Wake(0);                                   // room again: the held sender is woken
        Assert.Contains(1, guestHost.Wakes);
        Assert.Equal(NetTransmitStatus.Sent, port.Transmit(1, NetFrame.FromSpan(header, frame)));
        Assert.Equal(7, tap.Transmitted.Count);
        uint[] sequences = tap.Transmitted.Select(f => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(f.Bytes.AsSpan(34 + 4))).ToArray();
        Assert.Equal(sequences.Distinct().Count(), sequences.Length);   // no segment twice
    }

    [Fact]
    public void DropAndCount_BusyBackend_DroppedAndCounted()
    {
        var sw = new NetSwitch(new NetSwitchOptions { FlowControl = NetSwitchFlowControl.DropAndCount });
        NetSwitchPort guest = sw.AddGuestPort("g");
        ((INetBackend)guest).Attach(new FakeHost());
        var tap = new FakeBackend(NetOffloads.All) { BusyAfter = 0 };
        NetSwitchPort tapPort = sw.AddBackendPort("tap", tap);
        Assert.Equal(NetTransmitStatus.Sent, ((INetBackend)guest).Transmit(0, NetFrame.FromSpan(default, Build(MacAddress.Broadcast, Mac(1)))));
        Assert.Equal(1, tapPort.GetCounters().DroppedNoBuffers);
    }

    [Fact]
    public void BackendPort_WakeThenPump_FramesSwitchedToGuestAndPublished()
    {
        (NetSwitch sw, NetSwitchPort guest, FakeHost guestHost) = SwitchWithGuest();
        var tap = new FakeBackend(NetOffloads.All, queues: 2);
        var ready = new CountingNotifier();
        NetSwitchPort tapPort = sw.AddBackendPort("tap", tap, ready);
        Assert.Same(tap, tapPort.Backend);
        Assert.False(tapPort.IsGuest);
        for (int i = 0; i < 5; i++)
        {
            tap.ToReceive.Enqueue(Build(MacAddress.Broadcast, Mac(50), 100, (byte)i));
        }

        Assert.Equal(0, tapPort.PumpReceive(64));           // nothing woken yet
        tap.Host!.Wake(1);
        Assert.Equal(1, ready.Count);
        Assert.True(tapPort.HasReceivePending);
        Assert.Equal(3, tapPort.PumpReceive(3));            // budget used: stays pending
        Assert.True(tapPort.HasReceivePending);
        Assert.Equal(2, tapPort.PumpReceive(3));
        Assert.Equal(5, guestHost.Delivered.Count);
        Assert.True(guestHost.Flushes >= 2);
        Assert.Equal(0, guestHost.Undelivered);
        Assert.True(sw.TryGetPort(Mac(50), out NetSwitchPort? learned));
        Assert.Same(tapPort, learned);

        // A guest's unicast back to the learned address goes to the backend.
        ((INetBackend)guest).Transmit(1, NetFrame.FromSpan(default, Build(Mac(50), Mac(1))));
        Assert.Equal(1, Assert.Single(tap.Transmitted).Queue);   // sender queue 1 → backend queue 1
    }

    [Fact]
    public void BackendPort_GuestOutOfBuffers_BackendHoldsFrameAndPumpRetriesAfterBuffers()
    {
        (NetSwitch sw, NetSwitchPort guest, FakeHost guestHost) = SwitchWithGuest();
        var tap = new FakeBackend(NetOffloads.All);
        NetSwitchPort tapPort = sw.AddBackendPort("tap", tap);
        guestHost.NoBuffers = true;
        tap.ToReceive.Enqueue(Build(MacAddress.Broadcast, Mac(50)));
        tap.Host!.Wake(0);
        Assert.Equal(0, tapPort.PumpReceive(8));
        Assert.Single(tap.ToReceive);
        Assert.False(tapPort.HasReceivePending);

        guestHost.PostBuffers();                             // wakes the backend port's queue
        Assert.True(tapPort.HasReceivePending);
        Assert.Equal(1, tapPort.PumpReceive(8));
        Assert.Single(guestHost.Delivered);
        Assert.Equal(1, tapPort.GetCounters().ReceivedFrames);
    }

    [Fact]
    public void BackendPort_DeliverOutsidePump_PublishedAtOnce()
    {
        (NetSwitch sw, _, FakeHost guestHost) = SwitchWithGuest();
        var tap = new FakeBackend(NetOffloads.All);
        sw.AddBackendPort("tap", tap);
        NetDeliveryResult r = tap.Host!.Deliver(-1, NetFrame.FromSpan(default, Build(MacAddress.Broadcast, Mac(50))));
        Assert.Equal(NetDeliveryStatus.Delivered, r.Status);
        Assert.Single(guestHost.Delivered);
        Assert.Equal(0, guestHost.Undelivered);
        Assert.Equal(NetOffloads.All, tap.Host.ReceiveOffloads);
    }

    [Fact]
    public void RemovePort_BackendPort_DetachedAndNoLongerCalled()
    {
        (NetSwitch sw, NetSwitchPort guest, _) = SwitchWithGuest();
        var tap = new FakeBackend(NetOffloads.All);
        NetSwitchPort tapPort = sw.AddBackendPort("tap", tap);
        Assert.True(sw.RemovePort(tapPort));
        Assert.True(tap.Detached);
        Assert.Equal(NetTransmitStatus.Dropped, ((INetBackend)guest).Transmit(0, NetFrame.FromSpan(default, Build(MacAddress.Broadcast, Mac(1)))));   // nobody left
        Assert.Empty(tap.Transmitted);
    }

    [Theory]
    [InlineData(QueueKind.Split)]
    [InlineData(QueueKind.Packed)]
    public void Transmit_FrameFromGuestChain_DeliveredByteForByteWithoutStaging(QueueKind kind)
    {
        var sw = new NetSwitch();
        NetSwitchPort a = sw.AddGuestPort("a"), b = sw.AddGuestPort("b");
        var hostA = new FakeHost();
        var hostB = new FakeHost();
        ((INetBackend)a).Attach(hostA);
        ((INetBackend)b).Attach(hostB);

        using QueuePair pair = QueuePairFactory.Create(kind, 16, VirtqueueFeatures.None);
        byte[] frame = Build(MacAddress.Broadcast, Mac(1), 300, 9);
        byte[] readable = new byte[12 + frame.Length];
        frame.CopyTo(readable, 12);
        var segments = new List<BufferSegment>();
        foreach ((int at, int n) in new[] { (0, 17), (17, 5), (22, 200), (222, readable.Length - 222) })
        {
            GuestAddress address = pair.Buffers.Rent();
            pair.Memory.Write(address, readable.AsSpan(at, n));
            segments.Add(BufferSegment.Readable(address, (uint)n));
        }

        Assert.True(pair.Driver.TryAddChain(segments.ToArray(), 1));
        pair.Driver.PublishAvailable();
        Assert.Equal(PopStatus.Popped, pair.Device.TryPopAvailable(out DescriptorChain chain));

        NetFrame f = NetFrame.FromChain(default, chain, 12, frame.Length);
        Assert.Equal(NetTransmitStatus.Sent, ((INetBackend)a).Transmit(0, f));
        Assert.Equal(frame, Assert.Single(hostB.Delivered).Bytes);
        pair.Device.PushUsed(chain, 0);
        Assert.True(pair.GuardedMemory.GuardsIntact());
    }
}
