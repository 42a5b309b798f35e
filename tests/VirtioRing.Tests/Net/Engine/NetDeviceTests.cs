using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Control;
using VirtioRing.Net.Engine;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using VirtioRing.Tests.Net.Multiqueue;
using VirtioRing.Tests.Net.Offload;
using Xunit;

namespace VirtioRing.Tests.Net.Engine;

public sealed class NetDeviceTests
{
    public static TheoryData<QueueKind> Kinds => new() { QueueKind.Split, QueueKind.Packed };

    internal static byte[] Frame(int length, int id)
    {
        var f = new byte[length];
        for (int i = 0; i < f.Length; i++)
        {
            f[i] = (byte)(i * 7 + id);
        }

        f[0] = 0x52;   // unicast destination
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(14), id);
        return f;
    }

    internal static int IdOf(byte[] frame) => BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(14));

    internal static ControlAck Control(EngineRig rig, byte[] command)
    {
        int q = rig.Device.ControlQueueIndex;
        QueuePair qp = rig.Queues[q];
        GuestAddress c = qp.Buffers.Rent();
        GuestAddress ack = qp.Buffers.Rent();
        command.CopyTo(qp.Memory.GetSpan(c, (ulong)command.Length));
        Assert.True(qp.Driver.TryAddChain([BufferSegment.Readable(c, (uint)command.Length), BufferSegment.Writable(ack, 1)], 7));
        qp.Driver.PublishAvailable();
        rig.Device.Kick(q);
        Assert.Equal(PopStatus.Popped, qp.Driver.TryReclaimUsed(out _));
        return (ControlAck)qp.Memory.GetSpan(ack, 1)[0];
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Echo_FramesTransmitted_ComeBackWithHeaderAndNumBuffers(QueueKind kind)
    {
        using var rig = new EngineRig(kind);
        rig.Device.Start();
        rig.PostRx(0, 32);
        int[] lengths = [60, 64, 1500, 3000, 5000];
        for (int i = 0; i < lengths.Length; i++)
        {
            Assert.True(rig.Send(0, default, Frame(lengths[i], i)));
        }

        rig.PollAll();
        Assert.Equal(lengths.Length, rig.ReclaimTx(0));
        List<(VirtioNetHeader Header, byte[] Frame)> got = rig.ReceiveAll(0);
        Assert.Equal(lengths.Length, got.Count);
        for (int i = 0; i < lengths.Length; i++)
        {
            Assert.Equal(Frame(lengths[i], i), got[i].Frame);
            int expectedBuffers = (lengths[i] + rig.Layout.Size + EngineRig.SlotSize - 1) / EngineRig.SlotSize;
            Assert.Equal(expectedBuffers, got[i].Header.NumBuffers);
        }

        NetQueueCounters tx = rig.Device.GetCounters(1);
        Assert.Equal(lengths.Length, tx.Packets);
        Assert.Equal(9624, tx.Bytes);
        Assert.Equal(lengths.Length, rig.Device.GetCounters(0).Packets);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Transmit_CaptureMode_FrameReachesBackendIntact(QueueKind kind)
    {
        using var rig = new EngineRig(kind, mode: LoopbackMode.Capture);
        rig.Device.Start();
        byte[] f = Frame(700, 3);
        Assert.True(rig.Send(0, default, f, pieceSize: 100));   // a gather of 8 pieces, header split off
        rig.PollAll(1);
        Assert.True(rig.Backend.TryTakeTransmitted(0, out _, out byte[] got));
        Assert.Equal(f, got);
        Assert.Equal(1, rig.ReclaimTx(0));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Transmit_BadHeader_CountedReturnedAndQueueGoesOn(QueueKind kind)
    {
        using var rig = new EngineRig(kind, mode: LoopbackMode.Capture);
        rig.Device.Start();
        rig.SendRaw(0, new byte[5]);   // shorter than the header
        var needsCsum = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = 20, ChecksumOffset = 6 };
        rig.Send(0, needsCsum, Frame(100, 1));   // NEEDS_CSUM without VIRTIO_NET_F_CSUM
        rig.Send(0, default, Frame(100, 2));
        rig.PollAll(1);
        Assert.Equal(3, rig.ReclaimTx(0));
        Assert.Equal(2, rig.Device.GetCounters(1).BadHeader);
        Assert.True(rig.Backend.TryTakeTransmitted(0, out _, out byte[] got));
        Assert.Equal(2, IdOf(got));
        Assert.False(rig.Backend.TryTakeTransmitted(0, out _, out _));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Deliver_FilteredFrame_CountedAndNotWritten(QueueKind kind)
    {
        using var rig = new EngineRig(kind, mode: LoopbackMode.Capture);
        rig.Device.Start();
        rig.PostRx(0, 4);
        var cmd = new byte[16];
        int n = NetControlEncoder.WriteRxMode(cmd, NetRxMode.Promiscuous, on: false);
        Assert.Equal(ControlAck.Ok, Control(rig, cmd.AsSpan(0, n).ToArray()));
        byte[] other = Frame(80, 1);   // destination 52:.. not the device MAC
        Assert.True(rig.Backend.Inject(0, default, other));
        byte[] mine = Frame(80, 2);
        rig.Device.Config.Mac.CopyTo(mine);
        Assert.True(rig.Backend.Inject(0, default, mine));
        rig.PollAll(1);
        List<(VirtioNetHeader Header, byte[] Frame)> got = rig.ReceiveAll(0);
        Assert.Single(got);
        Assert.Equal(2, IdOf(got[0].Frame));
        Assert.Equal(1, rig.Device.GetCounters(0).Filtered);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Deliver_RssConfigured_PicksIndirectionQueueAndReportsHash(QueueKind kind)
    {
        using var rig = new EngineRig(kind, pairs: 2, accept: EngineRig.Base | NetFeatures.Rss | NetFeatures.HashReport, mode: LoopbackMode.Capture, backendQueues: 1);
        rig.Device.Start();
        rig.PostRx(0, 4);
        rig.PostRx(1, 4);
        ushort[] table = [1, 1, 1, 1];
        var cmd = new byte[NetControlEncoder.GetRssConfigLength(table.Length, 40)];
        int n = NetControlEncoder.WriteRssConfig(cmd, NetHashTypes.TcpV4, table, 0, 2, TestFrames.MicrosoftKey);
        Assert.Equal(ControlAck.Ok, Control(rig, cmd.AsSpan(0, n).ToArray()));
        Assert.Equal(2, rig.Device.ActivePairs);
        byte[] tcp = TestFrames.IPv4("66.9.149.187", "161.142.100.80", 6, 2794, 1766);
        byte[] udp = TestFrames.IPv4("66.9.149.187", "161.142.100.80", 17, 2794, 1766);
        Assert.True(rig.Backend.Inject(0, default, tcp));
        Assert.True(rig.Backend.Inject(0, default, udp));   // not a TcpV4 frame: unclassified queue 0
        rig.PollAll(1);
        List<(VirtioNetHeader Header, byte[] Frame)> q1 = rig.ReceiveAll(1);
        List<(VirtioNetHeader Header, byte[] Frame)> q0 = rig.ReceiveAll(0);
        Assert.Single(q1);
        Assert.Equal(tcp, q1[0].Frame);
        Assert.Equal(NetHashReport.TcpV4, q1[0].Header.HashReport);
        Assert.Equal(0x51ccc178u, q1[0].Header.HashValue);   // Microsoft RSS verification suite, IPv4 TCP row 1
        Assert.Single(q0);
        Assert.Equal(NetHashReport.None, q0[0].Header.HashReport);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Deliver_TsoToGuestWithoutTso_ArrivesAsValidSegments(QueueKind kind)
    {
        using var rig = new EngineRig(kind, mode: LoopbackMode.Capture);
        rig.Device.Start();
        rig.PostRx(0, 16);
        var spec = new PacketSpec(IPv6: false, Tcp: true, PayloadLength: 3000, Fill: ChecksumFill.Partial);
        byte[] super = Packets.Build(spec);
        int l4 = Packets.L4Offset(spec);
        var h = new VirtioNetHeader
        {
            Flags = NetHeaderFlags.NeedsChecksum, GsoType = NetGsoType.TcpV4, GsoSize = 1000,
            HeaderLength = (ushort)Packets.HeaderLength(spec), ChecksumStart = (ushort)l4, ChecksumOffset = 16,
        };
        Assert.True(rig.Backend.Inject(0, h, super));
        rig.PollAll(1);
        List<(VirtioNetHeader Header, byte[] Frame)> got = rig.ReceiveAll(0);
        Assert.Equal(3, got.Count);
        foreach ((VirtioNetHeader header, byte[] frame) in got)
        {
            Assert.Equal(NetGsoType.None, header.GsoType);
            Assert.Equal(NetHeaderFlags.None, header.Flags);
            Assert.Equal(Packets.HeaderLength(spec) + 1000, frame.Length);
            Assert.True(Packets.TransportVerifies(frame, 14, l4, v6: false, 6));
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Deliver_NeedsCsumToGuestWithoutGuestCsum_ArrivesChecksummed(QueueKind kind)
    {
        using var rig = new EngineRig(kind, mode: LoopbackMode.Capture);
        rig.Device.Start();
        rig.PostRx(0, 4);
        var spec = new PacketSpec(IPv6: true, Tcp: false, PayloadLength: 333, Fill: ChecksumFill.Partial);
        byte[] f = Packets.Build(spec);
        int l4 = Packets.L4Offset(spec);
        var h = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = (ushort)l4, ChecksumOffset = 6 };
        Assert.True(rig.Backend.Inject(0, h, f));
        rig.PollAll(1);
        (VirtioNetHeader header, byte[] frame) = Assert.Single(rig.ReceiveAll(0));
        Assert.Equal(NetHeaderFlags.None, header.Flags);
        Assert.True(Packets.TransportVerifies(frame, 14, l4, v6: true, 17));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Deliver_NeedsCsumToGuestWithGuestCsum_KeptAsIs(QueueKind kind)
    {
        using var rig = new EngineRig(kind, accept: EngineRig.Base | NetFeatures.GuestCsum, mode: LoopbackMode.Capture);
        rig.Device.Start();
        rig.PostRx(0, 4);
        var spec = new PacketSpec(IPv6: false, Tcp: true, PayloadLength: 100, Fill: ChecksumFill.Partial);
        byte[] f = Packets.Build(spec);
        var h = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = (ushort)Packets.L4Offset(spec), ChecksumOffset = 16 };
        Assert.True(rig.Backend.Inject(0, h, f));
        rig.PollAll(1);
        (VirtioNetHeader header, byte[] frame) = Assert.Single(rig.ReceiveAll(0));
        Assert.Equal(NetHeaderFlags.NeedsChecksum, header.Flags);
        Assert.Equal(f, frame);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Transmit_TsoToBackendWithoutTso_SegmentedInSoftware(QueueKind kind)
    {
        using var rig = new EngineRig(kind, accept: EngineRig.Base | NetFeatures.Csum | NetFeatures.HostTso4, mode: LoopbackMode.Capture);
        Assert.True((rig.Device.OfferedFeatures & NetFeatures.HostTso4) != 0, "offered although the backend has no TSO");
        rig.Device.Start();
        var spec = new PacketSpec(IPv6: false, Tcp: true, PayloadLength: 2500, Fill: ChecksumFill.Partial);
        byte[] super = Packets.Build(spec);
        int l4 = Packets.L4Offset(spec);
        var h = new VirtioNetHeader
        {
            Flags = NetHeaderFlags.NeedsChecksum, GsoType = NetGsoType.TcpV4, GsoSize = 1000,
            HeaderLength = (ushort)Packets.HeaderLength(spec), ChecksumStart = (ushort)l4, ChecksumOffset = 16,
        };
        Assert.True(rig.Send(0, h, super, pieceSize: 777));
        var csum = new PacketSpec(IPv6: false, Tcp: false, PayloadLength: 50, Fill: ChecksumFill.Partial);
        Assert.True(rig.Send(0, new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = (ushort)Packets.L4Offset(csum), ChecksumOffset = 6 }, Packets.Build(csum)));
        rig.PollAll(1);
        Assert.Equal(2, rig.ReclaimTx(0));
        int[] payloads = [1000, 1000, 500];
        foreach (int p in payloads)
        {
            Assert.True(rig.Backend.TryTakeTransmitted(0, out VirtioNetHeader sh, out byte[] seg));
            Assert.Equal(NetGsoType.None, sh.GsoType);
            Assert.Equal(Packets.HeaderLength(spec) + p, seg.Length);
            Assert.True(Packets.TransportVerifies(seg, 14, l4, v6: false, 6));
        }

        Assert.True(rig.Backend.TryTakeTransmitted(0, out VirtioNetHeader ch, out byte[] c));
        Assert.Equal(NetHeaderFlags.None, ch.Flags & NetHeaderFlags.NeedsChecksum);
        Assert.True(Packets.TransportVerifies(c, 14, Packets.L4Offset(csum), v6: false, 17));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Transmit_BackendBusy_HoldsChainAndResumesInOrder(QueueKind kind)
    {
        using var rig = new EngineRig(kind, mode: LoopbackMode.Capture, backendCapacity: 2);
        rig.Device.Start();
        for (int i = 0; i < 7; i++)
        {
            Assert.True(rig.Send(0, default, Frame(100, i)));
        }

        var order = new List<int>();
        for (int round = 0; round < 20 && order.Count < 7; round++)
        {
            rig.PollAll(1);
            while (rig.Backend.TryTakeTransmitted(0, out _, out byte[] f))
            {
                order.Add(IdOf(f));
            }
        }

        Assert.Equal([0, 1, 2, 3, 4, 5, 6], order);
        Assert.True(rig.Device.GetCounters(1).Busy >= 1);
        Assert.Equal(7, rig.ReclaimTx(0));
        Assert.Equal(7, rig.Device.GetCounters(1).Packets);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void WaitForReceiveBuffers_NoBuffersThenKick_WaiterNotified(QueueKind kind)
    {
        using var rig = new EngineRig(kind, mode: LoopbackMode.Capture);
        rig.Device.Start();
        using var waiter = new Doorbell();
        NetDeliveryResult r = rig.Device.Deliver(-1, NetFrame.FromSpan(default, Frame(64, 1)));
        Assert.Equal(NetDeliveryStatus.NoBuffers, r.Status);
        Assert.False(rig.Device.WaitForReceiveBuffers(r.Queue, waiter));
        Assert.False(waiter.IsSignalled);
        rig.PostRx(0, 1);   // adds and kicks
        Assert.True(waiter.IsSignalled);
        Assert.True(rig.Device.Deliver(-1, NetFrame.FromSpan(default, Frame(64, 1))).IsDelivered);
        rig.Device.FlushDeliveries();
        Assert.Single(rig.ReceiveAll(0));
        Assert.True(rig.Device.WaitForReceiveBuffers(0, waiter) == false);
        rig.Device.Stop();
        Assert.True(waiter.IsSignalled, "stopping wakes waiters");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void VqPairsSet_MidTraffic_LosesAndDuplicatesNothing(QueueKind kind)
    {
        using var rig = new EngineRig(kind, pairs: 2);
        rig.Device.Start();
        var cmd = new byte[8];
        int n = NetControlEncoder.WriteQueuePairs(cmd, 2);
        Assert.Equal(ControlAck.Ok, Control(rig, cmd.AsSpan(0, n).ToArray()));
        Assert.Equal(2, rig.Device.ActivePairs);
        rig.PostRx(0, 60);
        rig.PostRx(1, 60);
        var seen = new List<int>();
        int id = 0;
        for (int step = 0; step < 12; step++)
        {
            for (int k = 0; k < 4; k++)
            {
                rig.Send(step % 2, default, Frame(200, id++));
            }

            rig.Device.GetPair(0).Poll(2);   // partial progress on each pair
            rig.Device.GetPair(1).Poll(2);
            ushort pairs = (ushort)(step % 3 == 0 ? 1 : 2);
            n = NetControlEncoder.WriteQueuePairs(cmd, pairs);
            Assert.Equal(ControlAck.Ok, Control(rig, cmd.AsSpan(0, n).ToArray()));
            Assert.Equal(pairs, rig.Device.ActivePairs);
            foreach (var f in rig.ReceiveAll(0))
            {
                seen.Add(IdOf(f.Frame));
            }

            foreach (var f in rig.ReceiveAll(1))
            {
                seen.Add(IdOf(f.Frame));
            }

            rig.ReclaimTx(0);
            rig.ReclaimTx(1);
            rig.PostRx(0, 8);
            rig.PostRx(1, 8);
        }

        n = NetControlEncoder.WriteQueuePairs(cmd, 2);
        Assert.Equal(ControlAck.Ok, Control(rig, cmd.AsSpan(0, n).ToArray()));
        for (int r = 0; r < 20; r++)
        {
            rig.PollAll(1);
            foreach (var f in rig.ReceiveAll(0))
            {
                seen.Add(IdOf(f.Frame));
            }

            foreach (var f in rig.ReceiveAll(1))
            {
                seen.Add(IdOf(f.Frame));
            }

            rig.PostRx(0, 8);
            rig.PostRx(1, 8);
        }

        seen.Sort();
        Assert.Equal(id, seen.Count);
        for (int i = 0; i < id; i++)
        {
            Assert.Equal(i, seen[i]);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void BrokenTransmitQueue_OnPair0_Pair1KeepsRunning(QueueKind kind)
    {
        using var rig = new EngineRig(kind, pairs: 2);
        NetQueueFaultEventArgs? fault = null;
        using var raised = new ManualResetEventSlim();
        rig.Device.QueueBroken += (_, e) =>
        {
            fault = e;
            raised.Set();
        };
        rig.Device.Start();
        rig.Device.SetActivePairs(2);
        rig.PostRx(1, 8);
        QueuePair tx0 = rig.Queues[1];
        Assert.True(tx0.Driver.TryAddChain([BufferSegment.Readable(new GuestAddress(0x7FFF_0000_0000), 64)], 99));
        tx0.Driver.PublishAvailable();
        rig.Device.Kick(1);
        Assert.True(rig.Send(1, default, Frame(300, 5)));
        rig.PollAll(2);
        Assert.True(raised.Wait(TimeSpan.FromSeconds(10)), "QueueBroken is raised (on the thread pool)");
        Assert.NotNull(fault);
        Assert.Equal(1, fault!.QueueIndex);
        Assert.True(rig.Device.NeedsReset);
        Assert.Equal(1, rig.Device.GetCounters(1).BrokenQueue);
        (VirtioNetHeader _, byte[] frame) = Assert.Single(rig.ReceiveAll(1));
        Assert.Equal(5, IdOf(frame));
        Assert.True(rig.Send(1, default, Frame(300, 6)));
        rig.PollAll(1);
        Assert.Single(rig.ReceiveAll(1));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void BlockingWorkers_EndToEnd_EveryFrameEchoedOnce(QueueKind kind)
    {
        using var rig = new EngineRig(kind, pairs: 2, worker: NetWorkerMode.Blocking, queueSize: 128);
        rig.Device.Start();
        var cmd = new byte[8];
        int n = NetControlEncoder.WriteQueuePairs(cmd, 2);
        Assert.Equal(ControlAck.Ok, Control(rig, cmd.AsSpan(0, n).ToArray()));
        rig.PostRx(0, 100);
        rig.PostRx(1, 100);
        const int Total = 400;
        var seen = new HashSet<int>();
        int sent = 0;
        var clock = Stopwatch.StartNew();
        while (seen.Count < Total && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            for (int p = 0; p < 2; p++)
            {
                rig.ReclaimTx(p);
                if (sent < Total && rig.Send(p, default, Frame(64 + (sent % 1400), sent)))
                {
                    sent++;
                }

                foreach (var f in rig.ReceiveAll(p))
                {
                    Assert.True(seen.Add(IdOf(f.Frame)), "duplicate");
                    rig.PostRx(p, 1);
                }
            }

            Thread.Yield();
        }

        Assert.Equal(Total, seen.Count);
        rig.Device.Stop();
        Assert.True(rig.Calls[0].NotifyCount + rig.Calls[2].NotifyCount > 0, "the guest was interrupted");
    }

    [Fact]
    public void OfferedFeatures_SoftwareOffloadsOff_RestrictedToBackend()
    {
        var backend = new LoopbackBackend();
        using var device = new NetDevice(new NetDeviceOptions { Backend = backend, SoftwareOffloads = NetOffloads.None, WorkerMode = NetWorkerMode.Manual });
        Assert.Equal(NetFeatures.None, device.OfferedFeatures & (NetFeatures.Csum | NetFeatures.HostTso4 | NetFeatures.GuestTso4 | NetFeatures.GuestCsum));
        Assert.Equal(NetLinkStatus.LinkUp, device.Config.Status);
        Assert.False(device.SetDriverFeatures(NetFeatures.Version1 | NetFeatures.Csum).IsValid);
    }
}
