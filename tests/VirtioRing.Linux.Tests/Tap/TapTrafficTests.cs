using System;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>An in-process guest on a TAP backend talks to the Linux stack in a namespace: ARP, ICMP echo, UDP both ways.</summary>
[Collection(TapCollection.Name)]
public sealed class TapTrafficTests
{
    [RootFact]
    public void Guest_ArpRequestForTheTapAddress_KernelAnswersWithTheTapMac()
    {
        using TapLab lab = TapLab.Create(permanentNeighbor: false);
        lab.Send(Packets.Arp(reply: false, TapLab.GuestMac, TapLab.GuestIp, default, TapLab.HostIp));

        (byte[]? reply, _, _) = lab.Receive((f, _) =>
            Packets.EtherType(f) == Packets.EtherTypeArp && BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(Packets.EthernetHeader + 6)) == 2);

        Assert.True(reply is not null, $"no ARP reply from the kernel ({lab.Ignored} other frames); tap counters: {lab.Backend.GetCounters(0)}");
        ReadOnlySpan<byte> arp = reply.AsSpan(Packets.EthernetHeader);
        Assert.Equal(TapLab.GuestMac, MacAddress.Read(reply));                   // unicast back to the asker
        Assert.Equal(lab.HostMac, MacAddress.Read(arp.Slice(8)));                // sender: the TAP's own MAC
        Assert.Equal(TapLab.HostIp, new IPAddress(arp.Slice(14, 4)));
        Assert.Equal(TapLab.GuestMac, MacAddress.Read(arp.Slice(18)));
        Assert.Equal(TapLab.GuestIp, new IPAddress(arp.Slice(24, 4)));

        // The kernel learned the guest from its request: the neighbour entry is there.
        Assert.Contains(TapLab.GuestMac.ToString(), lab.Namespace.Ip("neigh", "show", TapLab.GuestIp.ToString()), StringComparison.OrdinalIgnoreCase);
        Assert.True(lab.Backend.GetCounters(0).TransmittedFrames >= 1);
        Assert.True(lab.Backend.GetCounters(0).ReceivedFrames >= 1);
    }

    [RootTheory]
    [InlineData(true)]    // HASH_REPORT: 20-byte headers
    [InlineData(false)]   // 12-byte headers
    public void Guest_IcmpEchoRequests_KernelEchoesEachWithValidChecksums(bool hashReport)
    {
        using TapLab lab = TapLab.Create(guest: o => TapLab.WithoutFeatures(o, hashReport ? NetFeatures.None : NetFeatures.HashReport));
        Assert.Equal(hashReport ? 20 : 12, lab.Guest.Device.Layout.Size);
        byte[] data = new byte[56];
        for (ushort seq = 1; seq <= 20; seq++)
        {
            new Random(seq).NextBytes(data);
            lab.Send(lab.Ipv4Frame(Packets.ProtocolIcmp, Packets.IcmpEcho(0x4242, seq, data), id: seq));

            ushort expected = seq;
            (byte[]? frame, VirtioNetHeader header, _) = lab.ReceiveIpv4(Packets.ProtocolIcmp, ip =>
                ip[Packets.Ipv4Header] == 0 && BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(Packets.Ipv4Header + 6)) == expected);

            Assert.True(frame is not null, $"no echo reply {seq}; tap counters: {lab.Backend.GetCounters(0)}");
            Assert.True(Packets.ChecksumsValid(frame, header, out string why), why);
            Assert.Equal(lab.HostMac, MacAddress.Read(frame.AsSpan(6)));
            ReadOnlySpan<byte> icmp = Packets.Ipv4Packet(frame).Slice(Packets.Ipv4Header);
            Assert.Equal(0x4242, BinaryPrimitives.ReadUInt16BigEndian(icmp.Slice(4)));
            Assert.True(icmp.Slice(8).SequenceEqual(data), $"echo {seq}: the data differs");
        }

        Assert.Equal(lab.Guest.Device.Layout.Size, lab.Backend.Device.VnetHeaderSize);   // the TAP follows the guest's header
        var c = lab.Backend.GetCounters(0);
        Assert.Equal(20, c.TransmittedFrames);
        Assert.True(c.ReceivedFrames >= 20, c.ToString());
        Assert.Equal(0, c.TransmitDrops);
        Assert.Equal(0, c.ReceiveTruncated);
    }

    [RootFact]
    public void Guest_UdpToAndFromASocketInTheNamespace_PayloadsArriveWithValidChecksums()
    {
        using TapLab lab = TapLab.Create();
        using Socket socket = lab.Namespace.Enter(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(TapLab.HostIp, 7000));
            return s;
        });
        socket.ReceiveTimeout = 2000;

        // Guest to kernel.
        byte[] toHost = Encoding.ASCII.GetBytes("guest to kernel over the TAP, no copy in user space");
        lab.Send(lab.Ipv4Frame(Packets.ProtocolUdp, Packets.Udp(TapLab.GuestIp, TapLab.HostIp, 6000, 7000, toHost)));
        byte[] got = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        int n = socket.ReceiveFrom(got, ref from);
        Assert.Equal(toHost, got.AsSpan(0, n).ToArray());
        Assert.Equal(new IPEndPoint(TapLab.GuestIp, 6000), from);

        // Kernel to guest: small and near the MTU.
        foreach (int size in new[] { 18, 1472 })
        {
            byte[] toGuest = new byte[size];
            new Random(size).NextBytes(toGuest);
            socket.SendTo(toGuest, new IPEndPoint(TapLab.GuestIp, 6000));
            (byte[]? frame, VirtioNetHeader header, _) = lab.ReceiveIpv4(Packets.ProtocolUdp, ip => BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(Packets.Ipv4Header + 2)) == 6000);
            Assert.True(frame is not null, $"no UDP datagram of {size} bytes; tap counters: {lab.Backend.GetCounters(0)}");
            Assert.True(Packets.ChecksumsValid(frame, header, out string why), why);
            Assert.Equal(toGuest, Packets.Ipv4Packet(frame).Slice(Packets.Ipv4Header + 8).ToArray());
        }
    }
}
