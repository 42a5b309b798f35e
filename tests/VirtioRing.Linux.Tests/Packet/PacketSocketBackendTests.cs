using System;
using System.Net;
using System.Net.Sockets;
using System.Text;
using VirtioRing.Linux.Packet;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using Xunit;

namespace VirtioRing.Linux.Tests.Packet;

/// <summary>An in-process guest on a packet-socket backend bound to a veth end in a test-owned namespace, talking to the kernel on the other end.</summary>
public sealed class PacketSocketBackendTests
{
    [RootFact]
    public void Guest_ArpRequestAndIcmpEcho_KernelAnswersBoth()
    {
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach();
        lab.StartGuest();

        lab.Send(0, TestFrames.ArpRequest(PacketLab.GuestMac, PacketLab.GuestIp, PacketLab.PeerIp));
        var arp = lab.WaitForFrame((f, h) => TestFrames.IsArpReply(f, PacketLab.PeerIp, out _));
        Assert.True(arp is not null, "no ARP reply from the kernel");
        TestFrames.IsArpReply(arp.Value.Frame, PacketLab.PeerIp, out MacAddress peer);
        Assert.Equal(PacketLab.PeerMac, peer);

        byte[] payload = Encoding.ASCII.GetBytes("virtioring packet socket echo");
        for (ushort seq = 1; seq <= 3; seq++)
        {
            lab.Send(0, TestFrames.IcmpEcho(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, 0x5151, seq, payload));
            var reply = lab.WaitForFrame((f, h) => TestFrames.IsEchoReply(f, 0x5151, seq, out _));
            Assert.True(reply is not null, $"no echo reply {seq}");
            TestFrames.IsEchoReply(reply.Value.Frame, 0x5151, seq, out ReadOnlySpan<byte> echoed);
            Assert.True(echoed.SequenceEqual(payload));
        }

        PacketQueueCounters c = backend.GetCounters(0);
        Assert.True(c.TransmittedFrames >= 4, $"transmitted {c.TransmittedFrames}");
        Assert.True(c.ReceivedFrames >= 4, $"received {c.ReceivedFrames}");
        Assert.False(c.IsFaulted);
    }

    [RootFact]
    public void Guest_UdpBothWays_PayloadsArriveWithFullAndPartialChecksums()
    {
        using PacketLab lab = PacketLab.Create();
        lab.Attach();
        lab.StartGuest();
        using Socket kernel = lab.OpenUdp(7000);
        var buffer = new byte[2048];

        // Guest -> kernel: one with the checksum done, one asking for it (NEEDS_CSUM).
        for (int i = 0; i < 2; i++)
        {
            bool partial = i == 1;
            byte[] payload = Encoding.ASCII.GetBytes($"to the kernel #{i}");
            lab.Send(0, TestFrames.Udp(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, 40000, 7000, payload, partial),
                partial ? TestFrames.NeedsChecksum(tcp: false) : default);
            EndPoint from = new IPEndPoint(IPAddress.Any, 0);
            int n = kernel.ReceiveFrom(buffer, ref from);
            Assert.Equal(payload, buffer.AsSpan(0, n).ToArray());
            Assert.Equal(new IPEndPoint(PacketLab.GuestIp, 40000), from);
        }

        // Kernel -> guest.
        byte[] back = Encoding.ASCII.GetBytes("to the guest");
        kernel.SendTo(back, new IPEndPoint(PacketLab.GuestIp, 40001));
        var got = lab.WaitForFrame((f, h) => TestFrames.IsUdp(f, 40001, out _, out _));
        Assert.True(got is not null, "the kernel's datagram did not reach the guest");
        TestFrames.IsUdp(got.Value.Frame, 40001, out ushort srcPort, out ReadOnlySpan<byte> data);
        Assert.Equal(7000, srcPort);
        Assert.True(data.SequenceEqual(back));
    }

    [RootEthtoolFact]
    public void Guest_TcpTransferWithChecksumAndTsoRequests_KernelReceivesTheSameBytes()
    {
        using PacketLab lab = PacketLab.Create();

        // Between veth ends the kernel trusts a partial checksum and passes a GSO frame whole. With transmit
        // checksumming and TSO off on the bound end, it must complete each NEEDS_CSUM checksum and segment each TSO
        // frame itself as it sends them, and the receiving stack verifies every segment: a wrong header means a stall.
        Assert.True(Ethtool.Path is not null, "CI is set but ethtool is missing");
        lab.Ns.Exec(Ethtool.Path!, "-K", PacketLab.BoundLink, "tx", "off", "tso", "off");
        lab.Attach();
        var guest = lab.StartGuest();
        Assert.True((guest.NegotiatedFeatures & (NetFeatures.Csum | NetFeatures.HostTso4)) == (NetFeatures.Csum | NetFeatures.HostTso4), $"negotiated {guest.NegotiatedFeatures}");
        using Socket listener = lab.Listen(5001);
        var server = System.Threading.Tasks.Task.Run(() =>
        {
            using Socket conn = listener.Accept();
            conn.ReceiveTimeout = 30_000;
            using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            var buffer = new byte[65536];
            long total = 0;
            int n;
            while ((n = conn.Receive(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                total += n;
            }

            return (total, Convert.ToHexString(sha.GetHashAndReset()));
        });

        byte[] data = new byte[300_000];
        new Random(6).NextBytes(data);
        GuestTcp tcp = GuestTcp.Connect(lab, 45000, 5001);
        tcp.SendAll(data, useTso: true);
        Assert.True(server.Wait(30_000), "the kernel side did not see the end of the stream");
        Assert.Equal((long)data.Length, server.Result.total);
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(data)), server.Result.Item2);
        Assert.True(tcp.Sent.Partial > 10 && tcp.Sent.Tso > 10, $"partial {tcp.Sent.Partial}, tso {tcp.Sent.Tso}");
    }

    [RootFact]
    public void Kernel_TcpTransferToGuest_GsoFramesCrossTheRingWholeAndTheBytesMatch()
    {
        using PacketLab lab = PacketLab.Create();
        lab.Attach();
        var guest = lab.StartGuest();
        Assert.True((guest.NegotiatedFeatures & NetFeatures.GuestTso4) != 0, $"negotiated {guest.NegotiatedFeatures}");
        byte[] data = new byte[400_000];
        new Random(7).NextBytes(data);
        using Socket listener = lab.Listen(5002);
        var server = System.Threading.Tasks.Task.Run(() =>
        {
            using Socket conn = listener.Accept();
            conn.SendTimeout = 30_000;
            conn.Send(data);
            conn.Shutdown(SocketShutdown.Send);
            System.Threading.Thread.Sleep(200);
        });

        GuestTcp tcp = GuestTcp.Connect(lab, 45001, 5002);
        byte[] got = tcp.ReceiveAll(data.Length);
        Assert.True(server.Wait(30_000));
        Assert.Equal(data.Length, got.Length);
        Assert.True(data.AsSpan().SequenceEqual(got), "the bytes differ");
        Assert.True(tcp.GsoSegmentsReceived > 0, "no GSO super-frame reached the guest (the ring or the header lost it)");
    }

    [RootFact]
    public void Fanout_TwoQueues_FlowsLandOnBothQueuesWithoutDuplicates()
    {
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach(queues: 2);
        Assert.NotNull(backend.FanoutGroupId);
        lab.StartGuest(pairs: 2);
        Assert.Equal(VirtioRing.Net.Control.ControlAck.Ok, lab.Guest!.Driver.SetQueuePairs(2));
        Assert.Equal(2, lab.Guest.Driver.ActivePairs);

        // 32 flows from the kernel (one source port each): the fanout hash spreads them over the two sockets.
        const int Flows = 32;
        var sockets = new Socket[Flows];
        try
        {
            for (int i = 0; i < Flows; i++)
            {
                sockets[i] = lab.OpenUdp(20000 + i);
                sockets[i].SendTo(BitConverter.GetBytes(i), new IPEndPoint(PacketLab.GuestIp, 9000));
            }

            var seen = new bool[Flows];
            var pairs = new int[2];
            for (int got = 0; got < Flows; got++)
            {
                var frame = lab.WaitForFrame((f, h) => TestFrames.IsUdp(f, 9000, out _, out _));
                Assert.True(frame is not null, $"only {got} of {Flows} datagrams reached the guest");
                TestFrames.IsUdp(frame.Value.Frame, 9000, out ushort srcPort, out ReadOnlySpan<byte> payload);
                int flow = BitConverter.ToInt32(payload);
                Assert.Equal(20000 + flow, srcPort);
                Assert.False(seen[flow], $"flow {flow} arrived twice");
                seen[flow] = true;
                pairs[frame.Value.Pair]++;
            }

            Assert.Null(lab.WaitForFrame((f, h) => TestFrames.IsUdp(f, 9000, out _, out _), 300));   // no duplicates behind
            PacketQueueCounters q0 = backend.GetCounters(0);
            PacketQueueCounters q1 = backend.GetCounters(1);
            Assert.True(q0.ReceivedFrames > 0 && q1.ReceivedFrames > 0, $"queue 0 got {q0.ReceivedFrames}, queue 1 got {q1.ReceivedFrames}");
            Assert.True(pairs[0] > 0 && pairs[1] > 0, $"pair 0 got {pairs[0]}, pair 1 got {pairs[1]}");

            // The guest sends on both pairs: each pair's frames leave through its own socket.
            using Socket sink = lab.OpenUdp(9100);
            for (int pair = 0; pair < 2; pair++)
            {
                lab.Send(pair, TestFrames.Udp(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, (ushort)(41000 + pair), 9100, [(byte)pair]));
            }

            var buffer = new byte[16];
            bool[] from = new bool[2];
            for (int i = 0; i < 2; i++)
            {
                int n = sink.Receive(buffer);
                Assert.Equal(1, n);
                from[buffer[0]] = true;
            }

            Assert.True(from[0] && from[1]);
            // The counter moves after sendmsg returns, which can be after the datagram reached the socket.
            long deadline = Environment.TickCount64 + 2000;
            while ((backend.GetCounters(0).TransmittedFrames == 0 || backend.GetCounters(1).TransmittedFrames == 0) && Environment.TickCount64 < deadline)
            {
                System.Threading.Thread.Sleep(5);
            }

            Assert.True(backend.GetCounters(0).TransmittedFrames > 0 && backend.GetCounters(1).TransmittedFrames > 0);
        }
        finally
        {
            foreach (Socket? s in sockets)
            {
                s?.Dispose();
            }
        }
    }

    [RootFact]
    public void Fanout_GuestDrivesOneOfTwoQueues_TheIdleQueuesRingIsReadByTheActiveOne()
    {
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach(queues: 2);
        lab.StartGuest(pairs: 1);
        const int Flows = 32;
        var sockets = new Socket[Flows];
        try
        {
            for (int i = 0; i < Flows; i++)
            {
                sockets[i] = lab.OpenUdp(21000 + i);
                sockets[i].SendTo(BitConverter.GetBytes(i), new IPEndPoint(PacketLab.GuestIp, 9001));
            }

            var seen = new bool[Flows];
            for (int got = 0; got < Flows; got++)
            {
                var frame = lab.WaitForFrame((f, h) => TestFrames.IsUdp(f, 9001, out _, out _));
                Assert.True(frame is not null, $"only {got} of {Flows} datagrams reached the guest");
                TestFrames.IsUdp(frame.Value.Frame, 9001, out _, out ReadOnlySpan<byte> payload);
                int flow = BitConverter.ToInt32(payload);
                Assert.False(seen[flow], $"flow {flow} arrived twice");
                seen[flow] = true;
            }

            Assert.True(backend.GetCounters(1).ReceivedFrames > 0, "no flow hashed to the second socket (the test proves nothing)");
        }
        finally
        {
            foreach (Socket? s in sockets)
            {
                s?.Dispose();
            }
        }
    }

    [RootFact]
    public void Filter_DropsPortInBothDirections_CountsEachAndPassesTheRest()
    {
        var filter = new PortFilter(7777);
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach(filter: filter);
        lab.StartGuest();
        using Socket blocked = lab.OpenUdp(7777);
        using Socket open = lab.OpenUdp(7778);
        blocked.ReceiveTimeout = 300;

        lab.Send(0, TestFrames.Udp(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, 42000, 7777, "no"u8));
        lab.Send(0, TestFrames.Udp(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, 42000, 7778, "yes"u8));
        var buffer = new byte[64];
        Assert.Equal("yes"u8.ToArray(), buffer.AsSpan(0, open.Receive(buffer)).ToArray());
        Assert.Throws<SocketException>(() => blocked.Receive(buffer));

        blocked.SendTo("no"u8.ToArray(), new IPEndPoint(PacketLab.GuestIp, 42000));
        open.SendTo("yes"u8.ToArray(), new IPEndPoint(PacketLab.GuestIp, 42000));
        var got = lab.WaitForFrame((f, h) => TestFrames.IsUdp(f, 42000, out _, out _));
        Assert.True(got is not null);
        TestFrames.IsUdp(got.Value.Frame, 42000, out ushort srcPort, out _);
        Assert.Equal(7778, srcPort);
        Assert.Null(lab.WaitForFrame((f, h) => TestFrames.IsUdp(f, 42000, out _, out _), 300));

        PacketQueueCounters c = backend.GetCounters(0);
        Assert.Equal(1, c.TransmitFiltered);
        Assert.Equal(1, c.ReceiveFiltered);
        Assert.True(filter.Seen[(int)PacketDirection.Transmit] >= 2 && filter.Seen[(int)PacketDirection.Receive] >= 2);
    }

    [RootFact]
    public void Receive_GuestPostsNoBuffersForAWhile_FramesWaitInTheRingAndNoneIsLost()
    {
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach();
        lab.StartGuest(queueSize: 16);
        using Socket kernel = lab.OpenUdp(7100);

        // Far more datagrams than the guest has receive buffers; the guest reads nothing meanwhile.
        const int Count = 200;
        for (int i = 0; i < Count; i++)
        {
            kernel.SendTo(BitConverter.GetBytes(i), new IPEndPoint(PacketLab.GuestIp, 7101));
        }

        System.Threading.Thread.Sleep(200);
        Assert.True(backend.GetCounters(0).ReceiveNoBuffers > 0, "the guest's queue never ran out of buffers");
        for (int i = 0; i < Count; i++)
        {
            var frame = lab.WaitForFrame((f, h) => TestFrames.IsUdp(f, 7101, out _, out _));
            Assert.True(frame is not null, $"datagram {i} of {Count} was lost");
            TestFrames.IsUdp(frame.Value.Frame, 7101, out _, out ReadOnlySpan<byte> payload);
            Assert.Equal(i, BitConverter.ToInt32(payload));
        }

        PacketQueueCounters c = backend.GetCounters(0);
        Assert.Equal(0, c.KernelDrops);
        Assert.True(c.ReceivedFrames >= Count);
    }

    [RootFact]
    public void Receive_VlanTagTheKernelTookOff_IsPutBackWithTheChecksumStartMoved()
    {
        // Two guests on the two ends of the veth, each through its own packet socket: B sends a tagged frame, the
        // receiving end moves the tag into metadata (skb_vlan_untag), and A's backend must put it back.
        using PacketLab lab = PacketLab.Create();
        lab.Attach();
        lab.StartGuest();
        using var backendB = lab.Ns.Enter(() => new PacketSocketBackend(new PacketSocketOptions { Interface = PacketLab.PeerLink, BlockSize = 128 * 1024, BlockCount = 4 }));
        MacAddress macB = MacAddress.Parse("52:54:00:6b:00:0b");
        using var guestB = VirtioRing.Net.InProcess.InProcessGuest.Create(backendB, new VirtioRing.Net.InProcess.InProcessGuestOptions { Mac = macB, Name = "peer" });

        byte[] untagged = TestFrames.Udp(macB, PacketLab.GuestMac, PacketLab.PeerIp, PacketLab.GuestIp, 5555, 6666, "tagged"u8, partialChecksum: true);
        byte[] tagged = new byte[untagged.Length + 4];
        untagged.AsSpan(0, 12).CopyTo(tagged);
        tagged[12] = 0x81;
        tagged[13] = 0x00;
        tagged[14] = 0x20;   // priority 1, VLAN 5
        tagged[15] = 0x05;
        untagged.AsSpan(12).CopyTo(tagged.AsSpan(16));
        VirtioNetHeader h = TestFrames.NeedsChecksum(tcp: false);
        h.ChecksumStart += 4;
        Assert.True(guestB.Driver.TrySend(0, tagged, h));

        var got = lab.WaitForFrame((f, hdr) => f.Length >= 16 && f[12] == 0x81 && f[13] == 0x00);
        Assert.True(got is not null, "the tagged frame did not arrive tagged");
        Assert.True(tagged.AsSpan().SequenceEqual(got.Value.Frame), "the frame differs from the one sent");
        if ((got.Value.Header.Flags & NetHeaderFlags.NeedsChecksum) != 0)
        {
            Assert.Equal(TestFrames.EthernetLength + 4 + TestFrames.Ipv4Length, got.Value.Header.ChecksumStart);
        }
    }

    [RootFact]
    public void Transmit_LinkDown_FramesDroppedAndCountedWithoutAFault_ThenFlowAgainWhenUp()
    {
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach();
        var guest = lab.StartGuest();
        int faults = 0;
        guest.Device.BackendFaulted += (_, _) => System.Threading.Interlocked.Increment(ref faults);
        using Socket kernel = lab.OpenUdp(7200);

        lab.Ns.Ip("link", "set", PacketLab.BoundLink, "down");
        for (int i = 0; i < 5; i++)
        {
            lab.Send(0, TestFrames.Udp(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, 44000, 7200, [(byte)i]));
        }

        long deadline = Environment.TickCount64 + 5000;
        while (backend.GetCounters(0).TransmitLinkDown < 5 && Environment.TickCount64 < deadline)
        {
            System.Threading.Thread.Sleep(5);
        }

        Assert.Equal(5, backend.GetCounters(0).TransmitLinkDown);
        lab.Ns.Ip("link", "set", PacketLab.BoundLink, "up");
        var buffer = new byte[16];
        deadline = Environment.TickCount64 + 5000;
        int n = 0;
        while (n == 0 && Environment.TickCount64 < deadline)
        {
            // The link needs a moment to be up again (carrier); send until a datagram gets through.
            lab.Send(0, TestFrames.Udp(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, 44000, 7200, [42]));
            kernel.ReceiveTimeout = 100;
            try
            {
                n = kernel.Receive(buffer);
            }
            catch (SocketException)
            {
            }
        }

        Assert.Equal(42, buffer[0]);
        kernel.SendTo([7], new IPEndPoint(PacketLab.GuestIp, 44000));
        var got = lab.WaitForFrame((f, h) => TestFrames.IsUdp(f, 44000, out _, out ReadOnlySpan<byte> p) && p.Length == 1 && p[0] == 7);
        PacketQueueCounters c = backend.GetCounters(0);
        Assert.True(got is not null, $"the kernel's datagram did not reach the guest after the link came back: rx {c.ReceivedFrames}, host-filtered {c.ReceiveHostFiltered}, bad {c.ReceiveBadFrame}, down {c.ReceiveQueueDown}, kernel drops {c.KernelDrops}; link {lab.Ns.Ip("-s", "link", "show", PacketLab.BoundLink)}");
        Assert.Equal(0, faults);
        Assert.False(backend.GetCounters(0).IsFaulted);
    }

    [RootFact]
    public void Transmit_FrameOverTheMtuWithoutSegmentation_DroppedAndCountedAsTooLong()
    {
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach();
        var guest = lab.StartGuest();
        lab.Send(0, TestFrames.Udp(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, 44000, 7300, new byte[3000]));
        long deadline = Environment.TickCount64 + 5000;
        while (backend.GetCounters(0).TransmitTooLong == 0 && Environment.TickCount64 < deadline)
        {
            System.Threading.Thread.Sleep(5);
        }

        Assert.Equal(1, backend.GetCounters(0).TransmitTooLong);
        Assert.Equal(0, backend.GetCounters(0).TransmittedFrames);
        Assert.Equal(1, guest.Device.GetCounters(1).BackendDropped);
    }

    [RootFact]
    public void Transmit_HeaderTheKernelRefuses_DroppedAndCountedAsInvalid()
    {
        // Straight into the backend (no engine to validate first): NEEDS_CSUM with the checksum past the frame.
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach();
        byte[] frame = TestFrames.Udp(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, 44000, 7400, new byte[18]);
        var header = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = 1000, ChecksumOffset = 6 };
        Assert.Equal(VirtioRing.Net.Backends.NetTransmitStatus.Dropped, backend.Transmit(0, VirtioRing.Net.Backends.NetFrame.FromSpan(header, frame)));
        Assert.Equal(1, backend.GetCounters(0).TransmitInvalid);
        Assert.Equal(VirtioRing.Net.Backends.NetTransmitStatus.Sent, backend.Transmit(0, VirtioRing.Net.Backends.NetFrame.FromSpan(default, frame)));
        Assert.Equal(1, backend.GetCounters(0).TransmittedFrames);
    }

    [RootFact]
    public void Constructor_NoSuchInterface_ThrowsLinuxExceptionNamingIt()
    {
        using PacketLab lab = PacketLab.Create();
        var e = Assert.Throws<InvalidOperationException>(() => lab.Ns.Enter(() => new PacketSocketBackend(new PacketSocketOptions { Interface = "nosuch0" })));
        LinuxException inner = Assert.IsType<LinuxException>(e.InnerException);
        Assert.Equal("if_nametoindex", inner.CallName);
        Assert.Equal(Tmds.Linux.LibC.ENODEV, inner.Errno);
        Assert.Contains("nosuch0", inner.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", 1, 262144, 16, 2048, 1)]
    [InlineData("averyveryverylongname", 1, 262144, 16, 2048, 1)]
    [InlineData("eth0", 0, 262144, 16, 2048, 1)]
    [InlineData("eth0", 65, 262144, 16, 2048, 1)]
    [InlineData("eth0", 1, 100_000, 16, 2048, 1)]
    [InlineData("eth0", 1, 2048, 16, 2048, 1)]
    [InlineData("eth0", 1, 262144, 1, 2048, 1)]
    [InlineData("eth0", 1, 262144, 16, 2000, 1)]
    [InlineData("eth0", 1, 262144, 16, 64, 1)]
    [InlineData("eth0", 1, 262144, 16, 2048, 0)]
    public void Constructor_OptionOutOfRange_ThrowsBeforeOpeningAnything(string name, int queues, int blockSize, int blockCount, int frameSize, int timeout)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PacketSocketBackend(new PacketSocketOptions
        {
            Interface = name,
            Queues = queues,
            BlockSize = blockSize,
            BlockCount = blockCount,
            FrameSize = frameSize,
            BlockTimeoutMilliseconds = timeout,
        }));
    }

    /// <summary>Drops UDP over IPv4 (no options) from or to one port, in both directions; counts what it sees.</summary>
    private sealed class PortFilter(ushort port) : IPacketSocketFilter
    {
        public int[] Seen { get; } = new int[2];

        public PacketFilterVerdict Inspect(in VirtioRing.Net.Backends.NetFrame frame, PacketDirection direction, int queue)
        {
            System.Threading.Interlocked.Increment(ref Seen[(int)direction]);
            Span<byte> scratch = stackalloc byte[38];
            ReadOnlySpan<byte> h = frame.Peek(38, scratch);
            if (h.Length < 38 || h[12] != 0x08 || h[13] != 0x00 || h[14] != 0x45 || h[23] != 17)
            {
                return PacketFilterVerdict.Accept;
            }

            ushort src = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(h.Slice(34));
            ushort dst = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(h.Slice(36));
            return src == port || dst == port ? PacketFilterVerdict.Drop : PacketFilterVerdict.Accept;
        }
    }
}
