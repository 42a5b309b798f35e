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
}
