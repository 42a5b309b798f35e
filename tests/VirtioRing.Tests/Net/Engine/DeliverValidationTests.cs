using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;
using VirtioRing.TestKit;
using VirtioRing.Tests.Net.Offload;
using Xunit;

namespace VirtioRing.Tests.Net.Engine;

/// <summary>What the device passes on from one guest's transmit header to a receiver (hostile offload fields, flags, sizes).</summary>
public sealed class DeliverValidationTests
{
    public static TheoryData<QueueKind> Kinds => new() { QueueKind.Split, QueueKind.Packed };

    private const NetFeatures TsoGuest = EngineRig.Base | NetFeatures.GuestCsum | NetFeatures.GuestTso4 | NetFeatures.GuestTso6;

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Deliver_TcpV4GsoOnIPv6UdpFrameToTsoGuest_RefusedNotPassedOn(QueueKind kind)
    {
        using var rig = new EngineRig(kind, accept: TsoGuest, mode: LoopbackMode.Capture);
        rig.Device.Start();
        rig.PostRx(0, 16);
        var spec = new PacketSpec(IPv6: true, Tcp: false, PayloadLength: 3000, Fill: ChecksumFill.Partial);
        byte[] f = Packets.Build(spec);
        var h = new VirtioNetHeader
        {
            Flags = NetHeaderFlags.NeedsChecksum, GsoType = NetGsoType.TcpV4, GsoSize = 1000,
            HeaderLength = (ushort)Packets.HeaderLength(spec), ChecksumStart = (ushort)Packets.L4Offset(spec), ChecksumOffset = 6,
        };
        NetDeliveryResult r = rig.Device.Deliver(-1, NetFrame.FromSpan(h, f));
        rig.Device.FlushDeliveries();
        Assert.Equal(NetDeliveryStatus.BadFrame, r.Status);
        Assert.Empty(rig.ReceiveAll(0));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Deliver_ValidTso4ToTsoGuest_PassedThroughWhole(QueueKind kind)
    {
        using var rig = new EngineRig(kind, accept: TsoGuest, mode: LoopbackMode.Capture);
        rig.Device.Start();
        rig.PostRx(0, 16);
        var spec = new PacketSpec(IPv6: false, Tcp: true, PayloadLength: 3000, Fill: ChecksumFill.Partial);
        byte[] f = Packets.Build(spec);
        var h = new VirtioNetHeader
        {
            Flags = NetHeaderFlags.NeedsChecksum, GsoType = NetGsoType.TcpV4, GsoSize = 1000,
            HeaderLength = (ushort)Packets.HeaderLength(spec), ChecksumStart = (ushort)Packets.L4Offset(spec), ChecksumOffset = 16,
        };
        Assert.True(rig.Device.Deliver(-1, NetFrame.FromSpan(h, f)).IsDelivered);
        rig.Device.FlushDeliveries();
        (VirtioNetHeader got, byte[] frame) = Assert.Single(rig.ReceiveAll(0));
        Assert.Equal(NetGsoType.TcpV4, got.GsoType);
        Assert.Equal(f, frame);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Deliver_GsoWithChecksumStartNotAtL4_Refused(QueueKind kind)
    {
        using var rig = new EngineRig(kind, accept: TsoGuest, mode: LoopbackMode.Capture);
        rig.Device.Start();
        rig.PostRx(0, 16);
        var spec = new PacketSpec(IPv6: false, Tcp: true, PayloadLength: 3000, Fill: ChecksumFill.Partial);
        byte[] f = Packets.Build(spec);
        var h = new VirtioNetHeader
        {
            Flags = NetHeaderFlags.NeedsChecksum, GsoType = NetGsoType.TcpV4, GsoSize = 1000,
            HeaderLength = (ushort)Packets.HeaderLength(spec), ChecksumStart = 20, ChecksumOffset = 16,
        };
        Assert.False(rig.Device.Deliver(-1, NetFrame.FromSpan(h, f)).IsDelivered);
        rig.Device.FlushDeliveries();
        Assert.Empty(rig.ReceiveAll(0));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Transmit_FlagsOtherThanNeedsCsum_ClearedBeforeBackend(QueueKind kind)
    {
        using var rig = new EngineRig(kind, accept: EngineRig.Base | NetFeatures.Csum, mode: LoopbackMode.Capture);
        rig.Device.Start();
        Assert.True(rig.Send(0, new VirtioNetHeader { Flags = NetHeaderFlags.DataValid | NetHeaderFlags.RscInfo }, NetDeviceTests.Frame(100, 1)));
        rig.PollAll(1);
        Assert.True(rig.Backend.TryTakeTransmitted(0, out VirtioNetHeader h, out _));
        Assert.Equal(NetHeaderFlags.None, h.Flags);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Transmit_FrameLongerThanAnyIPPacket_DroppedAsBadHeader(QueueKind kind)
    {
        using var rig = new EngineRig(kind, mode: LoopbackMode.Capture, queueSize: 128);
        rig.Device.Start();
        Assert.True(rig.Send(0, default, NetDeviceTests.Frame(66000, 1)));
        rig.PollAll(1);
        Assert.Equal(1, rig.ReclaimTx(0));
        Assert.Equal(0, rig.Backend.PendingTransmitted(0));
        Assert.Equal(1, rig.Device.GetCounters(1).BadHeader);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Deliver_VlanTaggedFullMtuFrameToSmallBufferGuest_Delivered(QueueKind kind)
    {
        using var rig = new EngineRig(kind, accept: NetFeatures.Version1 | NetFeatures.Mtu, mode: LoopbackMode.Capture);
        rig.Device.Start();
        rig.PostRx(0, 4);
        byte[] f = NetDeviceTests.Frame(1518, 1);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8100);   // an 802.1Q tag: 1500 bytes of payload behind 18 bytes of header
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800);
        NetDeliveryResult r = rig.Device.Deliver(-1, NetFrame.FromSpan(default, f));
        rig.Device.FlushDeliveries();
        Assert.Equal(NetDeliveryStatus.Delivered, r.Status);
        List<(VirtioNetHeader Header, byte[] Frame)> got = rig.ReceiveAll(0);
        Assert.Equal(f, Assert.Single(got).Frame);
    }
}
