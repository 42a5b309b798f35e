using System.Collections.Generic;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;
using VirtioRing.TestKit;
using VirtioRing.Tests.Net.Offload;
using Xunit;

namespace VirtioRing.Tests.Net.Engine;

/// <summary>A GSO frame segmented for a guest without the receive offload, when buffers are short.</summary>
public sealed class SegmentedDeliveryTests
{
    public static TheoryData<QueueKind> Kinds => new() { QueueKind.Split, QueueKind.Packed };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Deliver_TsoToNonTsoGuestWithTooFewBuffers_NoBuffersAndNothingWrittenThenAllSegments(QueueKind kind)
    {
        using var rig = new EngineRig(kind, mode: LoopbackMode.Capture);
        rig.Device.Start();
        rig.PostRx(0, 2);   // 3 segments need 3 buffers
        var spec = new PacketSpec(IPv6: false, Tcp: true, PayloadLength: 3000, Fill: ChecksumFill.Partial);
        byte[] super = Packets.Build(spec);
        var h = new VirtioNetHeader
        {
            Flags = NetHeaderFlags.NeedsChecksum, GsoType = NetGsoType.TcpV4, GsoSize = 1000,
            HeaderLength = (ushort)Packets.HeaderLength(spec), ChecksumStart = (ushort)Packets.L4Offset(spec), ChecksumOffset = 16,
        };
        NetDeliveryResult r = rig.Device.Deliver(-1, NetFrame.FromSpan(h, super));
        rig.Device.FlushDeliveries();
        Assert.Equal(NetDeliveryStatus.NoBuffers, r.Status);
        Assert.Empty(rig.ReceiveAll(0));

        rig.PostRx(0, 4);
        r = rig.Device.Deliver(-1, NetFrame.FromSpan(h, super));
        rig.Device.FlushDeliveries();
        Assert.Equal(NetDeliveryStatus.Delivered, r.Status);
        List<(VirtioNetHeader Header, byte[] Frame)> got = rig.ReceiveAll(0);
        Assert.Equal(3, got.Count);
        foreach ((VirtioNetHeader _, byte[] frame) in got)
        {
            Assert.True(Packets.TransportVerifies(frame, 14, Packets.L4Offset(spec), v6: false, 6));
        }
    }
}
