using System;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Tasks;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>
/// A TCP transfer each way between the guest and a socket in the namespace, with TSO and checksum
/// offloads on: the guest sends 64 KiB super-frames (GSO TCPv4, NEEDS_CSUM) that the kernel's stack
/// takes as they are, and the kernel sends super-frames with partial checksums that land in the
/// guest's buffers straight from <c>readv</c>. A hash of the payload matches at both ends.
/// </summary>
[Collection(TapCollection.Name)]
public sealed class TapTcpTests
{
    private const int Bytes = 1 << 20;

    [RootTheory]
    [InlineData(true)]    // HASH_REPORT: 20-byte headers
    [InlineData(false)]   // 12-byte headers
    public async Task Guest_TcpBothWaysWithTsoAndChecksumOffload_PayloadHashesMatch(bool hashReport)
    {
        using TapLab lab = TapLab.Create(guest: o => TapLab.WithoutFeatures(o, hashReport ? NetFeatures.None : NetFeatures.HashReport));
        Assert.Equal(hashReport ? 20 : 12, lab.Guest.Device.Layout.Size);
        using Socket listener = lab.Namespace.Enter(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(TapLab.HostIp, 5001));
            s.Listen(1);
            return s;
        });

        byte[] upload = RandomNumberGenerator.GetBytes(Bytes);
        byte[] download = RandomNumberGenerator.GetBytes(Bytes);
        Task<byte[]> server = Task.Run(() =>
        {
            using Socket peer = listener.Accept();
            peer.ReceiveTimeout = 10_000;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[65536];
            for (int total = 0; total < Bytes;)
            {
                int n = peer.Receive(buffer);
                Assert.True(n > 0, $"the guest's stream ended after {total} bytes");
                hash.AppendData(buffer, 0, n);
                total += n;
            }

            peer.Send(download);
            peer.Shutdown(SocketShutdown.Send);
            return hash.GetHashAndReset();
        });

        var tcp = new GuestTcp(lab, localPort: 40000, remotePort: 5001);
        tcp.Connect();
        tcp.Send(upload, tso: true);
        byte[] downloaded = tcp.ReceiveToEnd();
        byte[] serverHash = await server.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(SHA256.HashData(upload), serverHash);
        Assert.Equal(SHA256.HashData(download), SHA256.HashData(downloaded));

        // The offloads were really used: the TAP took super-frames whole, and handed some over.
        var c = lab.Backend.GetCounters(0);
        Assert.True(tcp.SuperFramesSent >= Bytes / 65535, $"{tcp.SuperFramesSent} super-frames sent");
        Assert.Equal(tcp.SuperFramesSent, (int)c.TransmittedGsoFrames);
        Assert.Equal(0, c.TransmitDrops);
        Assert.True(tcp.SuperFramesReceived > 0, $"the kernel sent no super-frame to the guest (largest frame {tcp.LargestReceived} B)");
        Assert.True(tcp.PartialChecksumsReceived > 0, "the kernel left no checksum to the guest");
        Assert.True(tcp.LargestReceived > 1514, $"largest frame received {tcp.LargestReceived} B");
    }
}
