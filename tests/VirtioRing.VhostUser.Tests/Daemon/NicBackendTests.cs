using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using Microsoft.Extensions.Logging.Abstractions;
using VhostUserNet;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using VirtioRing.VhostUser.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Daemon;

/// <summary>The daemon's <c>--backend nic</c>: a guest on a veth end inside a namespace the test creates, the kernel on the other end.</summary>
[Collection(SerialCollection.Name)]
public sealed class NicBackendTests
{
    private static readonly byte[] KernelIp = [10, 77, 0, 1];
    private static readonly byte[] GuestIp = [10, 77, 0, 2];

    [RootFact]
    public void Daemon_NicBackendOnVeth_GuestArpsTheKernelAndGetsTheReply()
    {
        Requirements.Require();
        using NetNamespace ns = NetNamespace.Create();
        ns.Ip("link", "add", "vr-d0", "type", "veth", "peer", "name", "vr-k0");
        ns.Ip("addr", "add", "10.77.0.1/24", "dev", "vr-k0");
        ns.Ip("link", "set", "vr-d0", "up");
        ns.Ip("link", "set", "vr-k0", "up");
        string dir = Directory.CreateTempSubdirectory("vr-daemon-nic-").FullName;
        string socket = Path.Combine(dir, "a.sock");
        var options = new DaemonOptions([socket], 2, DaemonBackend.Nic, false, TimeSpan.Zero, TimeSpan.Zero) { Interfaces = ["vr-d0"] };

        // The packet sockets belong to the namespace of the thread that opens them; they work from any thread afterwards.
        VhostUserDaemon daemon = ns.Enter(() => new VhostUserDaemon(options, NullLoggerFactory.Instance));
        DaemonGuest? guest = null;
        try
        {
            DaemonDevice device = Assert.Single(daemon.Devices);
            Assert.NotNull(device.Nic);
            Assert.Equal(2, device.Nic.QueueCount);
            daemon.Start();
            VhostUserDaemonTests.WaitFor(() => File.Exists(socket), "the daemon did not listen");
            MacAddress mac = MacAddress.Read(device.Device.Config.Mac);
            guest = DaemonGuest.Connect(socket, device.Device.OfferedFeatures, mac);

            byte[] request = ArpRequest(mac);
            byte[] frame = new byte[2048];
            bool replied = false;
            var clock = Stopwatch.StartNew();
            for (int attempt = 0; attempt < 10 && !replied; attempt++)
            {
                guest.Send(request);   // again after a while: the first may go out before the kernel side is fully up
                var round = Stopwatch.StartNew();
                while (!replied && round.ElapsedMilliseconds < 1000)
                {
                    if (guest.Guest.Driver.TryReceive(0, frame, out _, out int length))
                    {
                        replied = IsArpReplyFromKernel(frame.AsSpan(0, length), mac);
                    }
                    else if (!guest.Guest.Driver.EnableUsedNotifications(0))
                    {
                        guest.Guest.Calls[0].Read(20, out _);
                    }
                }
            }

            Assert.True(replied, $"no ARP reply from the kernel within {clock.Elapsed.TotalSeconds:F1} s; {daemon.FormatCounters()}\n{ns.Ip("-s", "link", "show", "vr-k0")}");
            DaemonDeviceCounters c = device.GetCounters();
            Assert.True(c.TxFrames >= 1 && c.RxFrames >= 1, daemon.FormatCounters());
            Assert.Contains("lladdr " + mac.ToString().ToLowerInvariant(), ns.Ip("neigh", "show", "dev", "vr-k0"), StringComparison.Ordinal);
        }
        finally
        {
            daemon.Dispose();
            guest?.Dispose();
            Directory.Delete(dir, recursive: true);
        }

        Assert.False(File.Exists(socket));
    }

    private static byte[] ArpRequest(MacAddress mac)
    {
        byte[] f = new byte[60];
        f.AsSpan(0, 6).Fill(0xff);
        mac.WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 1);        // Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800);   // IPv4
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), 1);        // request
        mac.WriteTo(f.AsSpan(22));
        GuestIp.CopyTo(f.AsSpan(28));
        KernelIp.CopyTo(f.AsSpan(38));
        return f;
    }

    private static bool IsArpReplyFromKernel(ReadOnlySpan<byte> f, MacAddress mac)
    {
        Span<byte> ours = stackalloc byte[6];
        mac.WriteTo(ours);
        return f.Length >= 42
            && f.Slice(0, 6).SequenceEqual(ours)
            && BinaryPrimitives.ReadUInt16BigEndian(f.Slice(12)) == 0x0806
            && BinaryPrimitives.ReadUInt16BigEndian(f.Slice(20)) == 2
            && f.Slice(28, 4).SequenceEqual(KernelIp)
            && f.Slice(38, 4).SequenceEqual(GuestIp);
    }
}
