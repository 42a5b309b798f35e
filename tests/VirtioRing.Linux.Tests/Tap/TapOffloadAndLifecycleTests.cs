using System;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using VirtioRing.Linux.Tap;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Control;
using VirtioRing.Net.Multiqueue;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>
/// Receive offloads the kernel refuses (USO4 without USO6) never stop a queue; the backend disposed
/// under a running device; a detached queue's writes; queue pairs shrunk and grown under traffic; the
/// direct receive path with 20-byte headers and with small (non-mergeable) buffers.
/// </summary>
[Collection(TapCollection.Name)]
public sealed class TapOffloadAndLifecycleTests
{
    [RootFact]
    public void GuestWithUso4WithoutUso6_TrafficKeepsPassing_NoQueueFaulted()
    {
        using TapLab lab = TapLab.Create(guest: o => TapLab.WithoutFeatures(o, NetFeatures.GuestUso6));
        Assert.True((lab.Guest.NegotiatedFeatures & NetFeatures.GuestUso4) != 0);
        Assert.True((lab.Guest.NegotiatedFeatures & NetFeatures.GuestUso6) == 0);
        int faults = 0;
        lab.Guest.Device.BackendFaulted += (_, _) => Interlocked.Increment(ref faults);

        for (ushort seq = 1; seq <= 10; seq++)
        {
            Ping(lab, seq);
        }

        Assert.Null(lab.Backend.GetFault(0));
        Assert.Equal(0, Volatile.Read(ref faults));
        NetOffloads taken = lab.Backend.Device.ReceiveOffloads;
        Assert.Equal(NetOffloads.None, taken & (NetOffloads.Uso4 | NetOffloads.Uso6));   // only what the TAP carries
        Assert.True((taken & NetOffloads.Checksum) != 0, taken.ToString());
    }

    [RootFact]
    public void GuestOffloadsSetToUso4OnlyMidTraffic_NothingFaults_TrafficGoesOn()
    {
        using TapLab lab = TapLab.Create();
        Assert.True((lab.Guest.NegotiatedFeatures & NetFeatures.CtrlGuestOffloads) != 0);
        int faults = 0;
        lab.Guest.Device.BackendFaulted += (_, _) => Interlocked.Increment(ref faults);
        for (ushort seq = 1; seq <= 5; seq++)
        {
            Ping(lab, seq);
        }

        Assert.Equal(ControlAck.Ok, lab.Driver.SetGuestOffloads(NetFeatures.GuestCsum | NetFeatures.GuestUso4));
        for (ushort seq = 6; seq <= 15; seq++)
        {
            Ping(lab, seq);
        }

        Assert.Null(lab.Backend.GetFault(0));
        Assert.Equal(0, Volatile.Read(ref faults));
        Assert.Equal(NetOffloads.Checksum, lab.Backend.Device.ReceiveOffloads);

        // And back to everything: the kernel follows again.
        Assert.Equal(ControlAck.Ok, lab.Driver.SetGuestOffloads(NetFeatures.GuestCsum | NetFeatures.GuestTso4 | NetFeatures.GuestUso4 | NetFeatures.GuestUso6));
        Ping(lab, 16);
        Assert.Equal(NetOffloads.Checksum | NetOffloads.Tso4 | NetOffloads.Uso4 | NetOffloads.Uso6, lab.Backend.Device.ReceiveOffloads & ~NetOffloads.Ufo);
        Assert.Equal(0, Volatile.Read(ref faults));
    }

    [RootFact]
    public void SetReceiveOffloads_Uso4Alone_TakesChecksumOnly()
    {
        using TapLab lab = TapLab.Create();
        Assert.Equal(NetOffloads.Checksum, lab.Backend.Device.SetReceiveOffloads(NetOffloads.Checksum | NetOffloads.Uso4));
        Assert.Equal(NetOffloads.Checksum, lab.Backend.Device.ReceiveOffloads);
        Assert.Equal(NetOffloads.Checksum, lab.Backend.Device.SetReceiveOffloads(NetOffloads.Checksum | NetOffloads.Uso6));
    }

    [RootFact]
    public void BackendDisposedWhileTheDeviceRuns_FramesDroppedAndCounted_NothingThrows()
    {
        using TapLab lab = TapLab.Create();
        Ping(lab, 1);
        lab.Backend.Dispose();

        byte[] frame = lab.Ipv4Frame(Packets.ProtocolIcmp, Packets.IcmpEcho(7, 2, new byte[16]));
        for (int i = 0; i < 10; i++)
        {
            lab.Send(frame);
        }

        Assert.True(SpinWait.SpinUntil(() => lab.Backend.GetCounters(0).DroppedAfterFault >= 10, 3000), lab.Backend.GetCounters(0).ToString());
        Assert.Equal(NetTransmitStatus.Dropped, lab.Backend.Transmit(0, NetFrame.FromSpan(default, frame)));
        Assert.Equal(11, lab.Backend.GetCounters(0).DroppedAfterFault);
        Assert.Equal(0, lab.Backend.Receive(0, 64));
        Assert.Null(lab.Guest.Device.GetBackendFault(0));
    }

    [RootFact]
    public void Readiness_UsedAfterItsDisposal_AnswersFalse_NeverThrows()
    {
        using TapLab lab = TapLab.Create();
        TapQueue q = lab.Backend.GetQueue(0);
        var readiness = new TapReadiness(lab.Backend, lab.TapName);
        readiness.Add(q);
        readiness.Start();
        readiness.Dispose();

        // What a queue's thread does when Detach disposes the readiness under it (EAGAIN, a write after EAGAIN, a fault).
        Assert.False(readiness.SetOutput(q, armed: true));
        Assert.False(readiness.SetOutput(q, armed: false));
        readiness.Remove(q);
    }

    [RootFact]
    public void Readiness_DisposedBeforeStart_DoesNotThrow()
    {
        // Attach disposes an unstarted readiness when adding a queue fails.
        using TapLab lab = TapLab.Create();
        var readiness = new TapReadiness(lab.Backend, lab.TapName);
        readiness.Dispose();
    }

    [RootFact]
    public void DetachedQueue_WriteWithLinkUp_GoesThrough_WithLinkDown_CountedAsLinkDown()
    {
        using TapLab lab = TapLab.Create(queues: 2);
        Assert.False(lab.Backend.Device.IsQueueAttached(1));   // one pair active: queue 1 detached

        byte[] frame = lab.Ipv4Frame(Packets.ProtocolIcmp, Packets.IcmpEcho(7, 31, new byte[16]), id: 31);
        Assert.Equal(NetTransmitStatus.Sent, lab.Backend.Transmit(1, NetFrame.FromSpan(default, frame)));
        (byte[]? reply, _, int pair) = lab.ReceiveIpv4(Packets.ProtocolIcmp, ip =>
            ip[Packets.Ipv4Header] == 0 && BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(Packets.Ipv4Header + 6)) == 31);
        Assert.True(reply is not null, "the kernel did not answer a frame written on the detached queue");
        Assert.Equal(0, pair);   // the answer comes on the attached queue
        Assert.Equal(1, lab.Backend.GetCounters(1).TransmittedFrames);

        lab.Namespace.Ip("link", "set", "dev", lab.TapName, "down");
        Assert.Equal(NetTransmitStatus.Dropped, lab.Backend.Transmit(1, NetFrame.FromSpan(default, frame)));
        TapQueueCounters c = lab.Backend.GetCounters(1);
        Assert.Equal(1, c.TransmitLinkDown);
        Assert.Equal(1, c.TransmittedFrames);
        Assert.Null(lab.Backend.GetFault(1));
    }

    [RootFact]
    public void QueuePairs_FourToOneToFour_UnderTraffic_EveryFrameAccounted()
    {
        using TapLab lab = TapLab.Create(queues: 4);
        Assert.Equal(ControlAck.Ok, lab.Driver.SetQueuePairs(4));
        Assert.Equal(4, lab.Backend.ActiveQueues);
        using Socket socket = lab.Namespace.Enter(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(TapLab.HostIp, 7000));
            return s;
        });
        using var stop = new CancellationTokenSource();
        Task echo = Task.Run(() => TapMultiqueueTests.Echo(socket, stop.Token));
        int sent = 0;
        try
        {
            sent += Flows(lab, 0, 16, pairs: 4);

            Assert.Equal(ControlAck.Ok, lab.Driver.SetQueuePairs(1));
            Assert.Equal(1, lab.Backend.ActiveQueues);
            for (int q = 1; q < 4; q++)
            {
                Assert.False(lab.Backend.Device.IsQueueAttached(q));
            }

            sent += Flows(lab, 16, 16, pairs: 1);

            Assert.Equal(ControlAck.Ok, lab.Driver.SetQueuePairs(4));
            Assert.Equal(4, lab.Backend.ActiveQueues);
            for (int q = 0; q < 4; q++)
            {
                Assert.True(lab.Backend.Device.IsQueueAttached(q));
            }

            sent += Flows(lab, 32, 16, pairs: 4);
        }
        finally
        {
            stop.Cancel();
            socket.Close();
            echo.Wait(TimeSpan.FromSeconds(5));
        }

        long transmitted = 0;
        long received = 0;
        for (int q = 0; q < 4; q++)
        {
            TapQueueCounters c = lab.Backend.GetCounters(q);
            transmitted += c.TransmittedFrames;
            received += c.ReceivedFrames;
            Assert.Equal(0, c.TransmitDrops);
            Assert.Equal(0, c.ReceiveTruncated);
            Assert.Equal(0, c.ReceiveErrors);
            Assert.Equal(0, c.ReceiveRefused);
            Assert.Null(lab.Backend.GetFault(q));
        }

        Assert.Equal(sent, transmitted);                 // every guest frame written once
        Assert.Equal(sent + lab.Ignored, received);       // every echo (and nothing else lost) reached the guest
        for (int pair = 0; pair < 4; pair++)
        {
            Assert.Equal(0, lab.Guest.Device.GetCounters(2 * pair).NoBuffer);
            Assert.Equal(0, lab.Guest.Device.GetCounters(2 * pair + 1).BackendDropped);
        }
    }

    [RootFact]
    public void HashReportGuest_DirectReceive_HashBytesRewrittenNotStaleGuestBytes()
    {
        using TapLab lab = TapLab.Create();
        Assert.Equal(NetHeaderLayout.HashReportSize, lab.Guest.Device.Layout.Size);

        // Poison the buffer area (the posted receive buffers among it) past the rings: a header byte the
        // device left alone would come back as 0xAA.
        GuestRegion region = lab.Guest.Memory.Regions[0];
        ulong ringBytes = (lab.Guest.Rings.Bytes + 4095) & ~4095UL;
        lab.Guest.Memory.GetSpan(new GuestAddress(region.Start.Value + ringBytes), region.Size - ringBytes).Fill(0xAA);

        for (ushort seq = 1; seq <= 8; seq++)
        {
            VirtioNetHeader header = Ping(lab, seq);
            Assert.NotEqual(0xAAAA_AAAAu, header.HashValue);
            Assert.NotEqual((NetHashReport)0xAAAA, header.HashReport);
            Assert.NotEqual(0xAAAA, (int)header.PaddingReserved);
            Assert.Equal(1, header.NumBuffers);
        }

        Assert.Equal(NetHeaderLayout.HashReportSize, lab.Backend.Device.VnetHeaderSize);
        Assert.True(lab.Backend.GetCounters(0).ReceivedFrames >= 8);
    }

    [RootFact]
    public void SmallBufferGuest_DirectReceive_FramesUpToTheMtuArriveWhole()
    {
        const NetFeatures drop = NetFeatures.MrgRxBuf | NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.GuestEcn |
            NetFeatures.GuestUfo | NetFeatures.GuestUso4 | NetFeatures.GuestUso6;
        using TapLab lab = TapLab.Create(guest: o => TapLab.WithoutFeatures(o, drop));
        Assert.Equal(NetFeatures.None, lab.Guest.NegotiatedFeatures & drop);
        using Socket socket = lab.Namespace.Enter(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(TapLab.HostIp, 7000));
            return s;
        });

        Ping(lab, 1);
        foreach (int size in new[] { 1, 600, 1472 })
        {
            byte[] payload = new byte[size];
            new Random(size).NextBytes(payload);
            socket.SendTo(payload, new IPEndPoint(TapLab.GuestIp, 6000));
            (byte[]? frame, VirtioNetHeader header, _) = lab.ReceiveIpv4(Packets.ProtocolUdp, ip =>
                BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(Packets.Ipv4Header + 2)) == 6000 && ip.Length == Packets.Ipv4Header + 8 + size);
            Assert.True(frame is not null, $"no UDP datagram of {size} bytes; tap counters: {lab.Backend.GetCounters(0)}");
            Assert.True(Packets.ChecksumsValid(frame, header, out string why), why);
            Assert.Equal(payload, Packets.Ipv4Packet(frame).Slice(Packets.Ipv4Header + 8).ToArray());
            Assert.Equal(1, header.NumBuffers);
        }

        TapQueueCounters c = lab.Backend.GetCounters(0);
        Assert.Equal(0, c.ReceiveTruncated);
        Assert.Equal(0, c.ReceiveErrors);
        Assert.True(c.ReceivedFrames >= 4, c.ToString());
    }

    /// <summary>Sends <paramref name="count"/> UDP flows round-robin over the first <paramref name="pairs"/> pairs and waits for each echo.</summary>
    private static int Flows(TapLab lab, int first, int count, int pairs)
    {
        for (int flow = first; flow < first + count; flow++)
        {
            int pair = flow % pairs;
            ushort port = (ushort)(6000 + flow);
            byte[] payload = new byte[32];
            BinaryPrimitives.WriteInt32BigEndian(payload, flow);
            lab.Send(lab.Ipv4Frame(Packets.ProtocolUdp, Packets.Udp(TapLab.GuestIp, TapLab.HostIp, port, 7000, payload), (ushort)flow), default, pair);
            (byte[]? frame, _, int got) = lab.ReceiveIpv4(Packets.ProtocolUdp, ip => BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(Packets.Ipv4Header + 2)) == port);
            Assert.True(frame is not null, $"flow {flow} ({pairs} pair(s)): no echo");
            Assert.True(got < pairs, $"flow {flow}: echo on pair {got} with {pairs} active");
        }

        return count;
    }

    private static VirtioNetHeader Ping(TapLab lab, ushort seq)
    {
        lab.Send(lab.Ipv4Frame(Packets.ProtocolIcmp, Packets.IcmpEcho(7, seq, new byte[16]), id: (ushort)(100 + seq)));
        (byte[]? reply, VirtioNetHeader header, _) = lab.ReceiveIpv4(Packets.ProtocolIcmp, ip =>
            ip[Packets.Ipv4Header] == 0 && BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(Packets.Ipv4Header + 6)) == seq);
        Assert.True(reply is not null, $"no echo reply {seq}: {lab.Backend.GetCounters(0)}, fault {lab.Backend.GetFault(0)?.Message}");
        return header;
    }
}
