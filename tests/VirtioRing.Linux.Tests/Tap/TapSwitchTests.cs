using System;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>
/// The TAP as a port of the peer-guest switch, beside a guest's port: the switch is the TAP's host and
/// lends no buffers, so received frames take the copy path (<c>Deliver</c>) and the switch forwards them.
/// </summary>
[Collection(TapCollection.Name)]
public sealed class TapSwitchTests
{
    [RootFact]
    public void GuestBehindTheSwitch_ArpIcmpAndUdp_ReachTheKernelAndBack()
    {
        using TapLab lab = TapLab.Create(permanentNeighbor: false, viaSwitch: true);
        lab.Send(Packets.Arp(reply: false, TapLab.GuestMac, TapLab.GuestIp, default, TapLab.HostIp));
        (byte[]? arp, _, _) = lab.Receive((f, _) => Packets.EtherType(f) == Packets.EtherTypeArp && BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(Packets.EthernetHeader + 6)) == 2);
        Assert.True(arp is not null, $"no ARP reply through the switch: {lab.Backend.GetCounters(0)}");
        Assert.Equal(lab.HostMac, MacAddress.Read(arp.AsSpan(Packets.EthernetHeader + 8)));

        for (ushort seq = 1; seq <= 10; seq++)
        {
            TapBadInputTests.Ping(lab, seq);
        }

        using Socket socket = lab.Namespace.Enter(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(TapLab.HostIp, 7000));
            return s;
        });
        byte[] payload = new byte[1400];
        new Random(3).NextBytes(payload);
        socket.SendTo(payload, new IPEndPoint(TapLab.GuestIp, 6000));
        (byte[]? frame, VirtioNetHeader header, _) = lab.ReceiveIpv4(Packets.ProtocolUdp, _ => true);
        Assert.True(frame is not null, "no UDP datagram through the switch");
        Assert.True(Packets.ChecksumsValid(frame, header, out string why), why);
        Assert.Equal(payload, Packets.Ipv4Packet(frame).Slice(Packets.Ipv4Header + 8).ToArray());

        var c = lab.Backend.GetCounters(0);
        Assert.True(c.ReceivedFrames >= 12, c.ToString());
        Assert.Equal(11, c.TransmittedFrames);
        Assert.Equal(0, c.ReceiveRefused);
    }
}
