using System;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using Tmds.Linux;
using VirtioRing.Linux.Tap;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>
/// The backend against a recording host (no device engine): what exactly is written per frame, flow
/// control with <c>EPOLLOUT</c>, and the copy path for a host that lends no buffers (the switch) with
/// a frame kept while the host has no room.
/// </summary>
[Collection(TapCollection.Name)]
public sealed unsafe partial class TapBackendHostTests
{
    [RootFact]
    public void Transmit_QueueWouldBlock_BusyThenWokenWhenWritableAndTheHeaderAndFrameWrittenInOneVector()
    {
        using NetNamespace ns = NetNamespace.Create();
        using TapBackend backend = ns.Enter(() => TapBackend.Create(new TapOptions()));

        // Swap the queue's descriptor for the write end of a small non-blocking pipe (before the readiness
        // thread watches it): a full pipe answers EAGAIN as a TAP with a full send buffer does, and what the
        // backend writes can be read back byte for byte.
        int* p = stackalloc int[2];
        Assert.Equal(0, pipe2(p, LibC.O_NONBLOCK | LibC.O_CLOEXEC));
        using var readEnd = new SafeFileDescriptor(p[0], ownsHandle: true);
        Assert.True(LibC.fcntl(p[1], LibC.F_SETPIPE_SZ, 4096) >= 0);
        Assert.Equal(backend.Device.GetQueueHandle(0).Fd, dup2(p[1], backend.Device.GetQueueHandle(0).Fd));
        Assert.Equal(0, LibC.close(p[1]));
        byte* chunk = stackalloc byte[4096];
        while (LibC.write(backend.Device.GetQueueHandle(0).Fd, chunk, 4096) > 0)
        {
        }

        var host = new RecordingHost();
        backend.Attach(host);
        byte[] frame = new byte[100];
        new Random(1).NextBytes(frame);
        var header = new VirtioNetHeader
        {
            Flags = NetHeaderFlags.NeedsChecksum,
            GsoType = NetGsoType.TcpV4,
            GsoSize = 1400,
            HeaderLength = 54,
            ChecksumStart = 34,
            ChecksumOffset = 16,
        };

        Assert.Equal(NetTransmitStatus.Busy, backend.Transmit(0, NetFrame.FromSpan(header, frame)));
        Assert.Equal(1, backend.GetCounters(0).TransmitBusy);
        Assert.False(host.Woken.WaitOne(100), "woken while the queue was still full");

        Drain(readEnd.Fd);
        Assert.True(host.Woken.WaitOne(2000), "not woken when the queue became writable (EPOLLOUT)");

        Assert.Equal(NetTransmitStatus.Sent, backend.Transmit(0, NetFrame.FromSpan(header, frame)));
        byte[] written = Drain(readEnd.Fd);
        Assert.Equal(12 + 100, written.Length);   // the TAP's header size (12) and the frame, nothing else
        Assert.Equal(new byte[] { 1, 1, 54, 0, 0x78, 0x05, 34, 0, 16, 0, 0, 0 }, written.AsSpan(0, 12).ToArray());
        Assert.Equal(frame, written.AsSpan(12).ToArray());
        var c = backend.GetCounters(0);
        Assert.Equal(1, c.TransmittedFrames);
        Assert.Equal(1, c.TransmittedGsoFrames);
        Assert.Equal(100, c.TransmittedBytes);

        // EPOLLOUT was disarmed by the write that went through: room appearing again wakes nobody.
        int wakes = host.Wakes;
        Thread.Sleep(100);
        Assert.Equal(wakes, host.Wakes);
    }

    [RootFact]
    public void Receive_HostThatLendsNoBuffers_FramesDeliveredAKeptFrameOfferedAgainAndOffloadsFollowTheHost()
    {
        using NetNamespace ns = NetNamespace.Create();
        using TapBackend backend = ns.Enter(() => TapBackend.Create(new TapOptions()));
        ns.Exec("sysctl", "-qw", $"net.ipv6.conf.{backend.Name}.disable_ipv6=1");
        ns.Ip("addr", "add", TapLab.HostIp + "/24", "dev", backend.Name);
        ns.Ip("link", "set", "dev", backend.Name, "up");
        ns.Ip("neigh", "replace", TapLab.GuestIp.ToString(), "lladdr", TapLab.GuestMac.ToString(), "dev", backend.Name, "nud", "permanent");
        using Socket socket = ns.Enter(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(TapLab.HostIp, 7000));
            return s;
        });

        var host = new RecordingHost { Answer = NetDeliveryStatus.NoBuffers };
        backend.Attach(host);
        var guest = new IPEndPoint(TapLab.GuestIp, 6000);
        socket.SendTo("first"u8, guest);
        Assert.True(host.Woken.WaitOne(2000), "the readiness thread did not wake the host");

        // No buffers: the frame (already taken from the TAP) is kept and the host's waiter armed.
        Assert.Equal(0, backend.Receive(0, 64));
        Assert.Equal(1, host.Offered);
        Assert.NotNull(host.Waiter);

        host.Answer = NetDeliveryStatus.Delivered;
        int wakes = host.Wakes;
        host.Waiter!.Notify();
        Assert.Equal(wakes + 1, host.Wakes);   // the waiter wakes the queue
        Assert.Equal(1, backend.Receive(0, 64));
        Assert.Equal(2, host.Offered);
        Assert.Equal(0, backend.Receive(0, 64));   // drained

        (VirtioNetHeader h1, byte[] f1) = Assert.Single(host.Delivered);
        Assert.Equal("first"u8.ToArray(), Packets.Ipv4Packet(f1).Slice(Packets.Ipv4Header + 8).ToArray());
        Assert.Equal(NetHeaderFlags.None, h1.Flags);   // no receive offload asked for: a complete frame
        Assert.True(Packets.ChecksumsValid(f1, h1, out string why), why);

        // The host now takes partial checksums: the TAP follows before the next read.
        host.ReceiveOffloads = NetOffloads.Checksum;
        host.Woken.Reset();
        Assert.Equal(0, backend.Receive(0, 64));
        Assert.Equal(NetOffloads.Checksum, backend.Device.ReceiveOffloads);
        socket.SendTo("second"u8, guest);
        Assert.True(host.Woken.WaitOne(2000));
        Assert.Equal(1, backend.Receive(0, 64));
        (VirtioNetHeader h2, byte[] f2) = host.Delivered[1];
        Assert.Equal(NetHeaderFlags.NeedsChecksum, h2.Flags & NetHeaderFlags.NeedsChecksum);
        Assert.Equal(Packets.EthernetHeader + Packets.Ipv4Header, h2.ChecksumStart);
        Assert.Equal(6, h2.ChecksumOffset);
        Assert.True(Packets.ChecksumsValid(f2, h2, out why), why);
        Assert.Equal(2, backend.GetCounters(0).ReceivedFrames);
        Assert.Empty(host.Faults);
    }

    private static byte[] Drain(int fd)
    {
        var all = new System.IO.MemoryStream();
        byte[] buffer = new byte[8192];
        fixed (byte* b = buffer)
        {
            while (true)
            {
                long n = LibC.read(fd, b, buffer.Length);
                if (n <= 0)
                {
                    return all.ToArray();
                }

                all.Write(buffer, 0, (int)n);
            }
        }
    }

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int pipe2(int* fds, int flags);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int dup2(int oldfd, int newfd);
}
