using System;
using System.Buffers.Binary;
using VirtioRing.Linux.Tap;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using VirtioRing.Net.Engine;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>Bad input on the way to and from the kernel: refused frames are dropped and counted, the queue goes on.</summary>
[Collection(TapCollection.Name)]
public sealed class TapBadInputTests
{
    public enum KernelRefusal
    {
        /// <summary>hdr_len past the end of a plain frame (tun_get_user: hdr_len &gt; len).</summary>
        HeaderLengthPastFrame,

        /// <summary>A TCPv4 GSO request whose checksum offset is not the TCP checksum's (virtio_net_hdr_to_skb).</summary>
        TsoChecksumOffsetNotTcp,
    }

    [RootTheory]
    [InlineData(KernelRefusal.HeaderLengthPastFrame)]
    [InlineData(KernelRefusal.TsoChecksumOffsetNotTcp)]
    public void Transmit_HeaderTheKernelRefuses_DroppedAndCountedThenTheQueueGoesOn(KernelRefusal refusal)
    {
        using TapLab lab = TapLab.Create();
        byte[] frame;
        VirtioNetHeader header = default;
        if (refusal == KernelRefusal.HeaderLengthPastFrame)
        {
            // The engine passes hdr_len of a non-GSO frame on (only a hint, §5.1.6.2); the kernel checks it.
            frame = lab.Ipv4Frame(Packets.ProtocolUdp, Packets.Udp(TapLab.GuestIp, TapLab.HostIp, 6000, 9, new byte[32]));
            header.HeaderLength = 60000;
        }
        else
        {
            byte[] tcp = Packets.Tcp(TapLab.GuestIp, TapLab.HostIp, 40000, 9, 1, 0, Packets.TcpAck, 65535, new byte[4000], partialChecksum: true);
            frame = lab.Ipv4Frame(Packets.ProtocolTcp, tcp);
            header.Flags = NetHeaderFlags.NeedsChecksum;
            header.GsoType = NetGsoType.TcpV4;
            header.GsoSize = 1460;
            header.HeaderLength = 54;
            header.ChecksumStart = 34;
            header.ChecksumOffset = 6;   // UDP's checksum offset on a TCP super-frame: valid for the engine, refused by Linux
        }

        lab.Send(frame, header);
        Ping(lab, 1);   // served after the bad frame (one queue, in order): the queue still works

        TapQueueCounters c = lab.Backend.GetCounters(0);
        Assert.Equal(1, c.TransmitRejected);
        Assert.Equal(1, c.TransmittedFrames);
        Assert.Null(lab.Backend.GetFault(0));
        NetQueueCounters device = lab.Guest.Device.GetCounters(1);   // transmitq of pair 0
        Assert.Equal(1, device.BackendDropped);
        Assert.Equal(0, device.BadHeader);
    }

    [RootFact]
    public void Receive_FrameLongerThanTheGuestsBuffers_CutDroppedAndCountedThenTheNextArrives()
    {
        // No receive GSO and no mergeable buffers: the guest posts MTU-sized buffers and the device lends
        // one per frame. The TAP's MTU is raised so the kernel sends one 8 KB frame, which cannot fit.
        const NetFeatures ReceiveGso = NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.GuestUso4 | NetFeatures.GuestUso6 | NetFeatures.MrgRxBuf;
        using TapLab lab = TapLab.Create(guest: o => new VirtioRing.Net.InProcess.InProcessGuestOptions
        {
            Mac = o.Mac,
            QueuePairs = o.QueuePairs,
            Name = o.Name,
            DriverFeatures = o.DriverFeatures & ~ReceiveGso,
        });
        lab.Namespace.Ip("link", "set", "dev", lab.TapName, "mtu", "9000");
        using System.Net.Sockets.Socket socket = lab.Namespace.Enter(() =>
        {
            var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            s.Bind(new System.Net.IPEndPoint(TapLab.HostIp, 7000));
            return s;
        });

        var guest = new System.Net.IPEndPoint(TapLab.GuestIp, 6000);
        socket.SendTo(new byte[8000], guest);
        socket.SendTo(new byte[100], guest);
        (byte[]? frame, _, _) = lab.ReceiveIpv4(Packets.ProtocolUdp, ip => BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(Packets.Ipv4Header + 4)) == 108);

        Assert.True(frame is not null, $"the small datagram did not arrive: {lab.Backend.GetCounters(0)}");
        Assert.True(lab.Ignored == 0, $"the guest got {lab.Ignored} other frame(s): {lab.Backend.GetCounters(0)}; device rx {lab.Guest.Device.GetCounters(0)}");   // the big one never reached it
        Assert.Equal(1, lab.Backend.GetCounters(0).ReceiveTruncated);
        Assert.Equal(1, lab.Guest.Device.GetCounters(0).BadFrame);   // the device was told (a length past its buffers) and dropped it
        Assert.Null(lab.Backend.GetFault(0));
    }

    internal static void Ping(TapLab lab, ushort seq)
    {
        lab.Send(lab.Ipv4Frame(Packets.ProtocolIcmp, Packets.IcmpEcho(7, seq, new byte[16]), id: (ushort)(100 + seq)));
        (byte[]? reply, _, _) = lab.ReceiveIpv4(Packets.ProtocolIcmp, ip =>
            ip[Packets.Ipv4Header] == 0 && BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(Packets.Ipv4Header + 6)) == seq);
        Assert.True(reply is not null, $"no echo reply {seq}: {lab.Backend.GetCounters(0)}");
    }
}
