using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using VirtioRing.Linux.Packet;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using VirtioRing.Net.Engine;
using VirtioRing.Net.InProcess;
using Xunit;

namespace VirtioRing.Linux.Tests.Packet;

/// <summary>
/// A test's own network namespace with a veth pair inside: <see cref="BoundLink"/> is the end the packet socket binds
/// (the "NIC"), <see cref="PeerLink"/> the kernel's end with <see cref="PeerIp"/>; IPv6 is off so nothing but the
/// test's traffic crosses. An in-process guest (<see cref="GuestMac"/>, <see cref="GuestIp"/>) runs on the backend.
/// Disposing removes the guest, the backend and the namespace (with both veth ends).
/// </summary>
internal sealed class PacketLab : IDisposable
{
    public const string BoundLink = "pkt0";
    public const string PeerLink = "pkt1";
    public static readonly MacAddress GuestMac = MacAddress.Parse("52:54:00:6b:00:02");
    public static readonly MacAddress PeerMac = MacAddress.Parse("02:00:00:6b:00:01");
    public static readonly IPAddress PeerIp = IPAddress.Parse("10.107.0.1");
    public static readonly IPAddress GuestIp = IPAddress.Parse("10.107.0.2");
    private readonly byte[] _receive = new byte[70_000];

    private PacketLab(NetNamespace ns)
    {
        Ns = ns;
    }

    public NetNamespace Ns { get; }

    public PacketSocketBackend? Backend { get; private set; }

    public InProcessGuest? Guest { get; private set; }

    /// <summary>Creates the namespace and the veth pair; with <paramref name="staticNeighbour"/> the kernel knows the guest's MAC without ARP.</summary>
    public static PacketLab Create(bool staticNeighbour = true)
    {
        NetNamespace ns = NetNamespace.Create();
        try
        {
            ns.Enter(() =>
            {
                // /proc/sys/net is the namespace of the thread that opens it.
                File.WriteAllText("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
                File.WriteAllText("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
            });
            ns.Ip("link", "add", BoundLink, "type", "veth", "peer", "name", PeerLink);
            ns.Ip("link", "set", PeerLink, "address", PeerMac.ToString());
            ns.Ip("addr", "add", PeerIp + "/24", "dev", PeerLink);
            ns.Ip("link", "set", BoundLink, "up");
            ns.Ip("link", "set", PeerLink, "up");
            if (staticNeighbour)
            {
                ns.Ip("neigh", "replace", GuestIp.ToString(), "lladdr", GuestMac.ToString(), "dev", PeerLink, "nud", "permanent");
            }

            return new PacketLab(ns);
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Creates the backend on <see cref="BoundLink"/> (on a thread inside the namespace).</summary>
    public PacketSocketBackend Attach(int queues = 1, IPacketSocketFilter? filter = null, NetOffloads offloads = PacketSocketOptions.DefaultOffloads)
    {
        Backend = Ns.Enter(() => new PacketSocketBackend(new PacketSocketOptions
        {
            Interface = BoundLink,
            Queues = queues,
            Filter = filter,
            Offloads = offloads,
            BlockSize = 128 * 1024,
            BlockCount = 8,
        }));
        return Backend;
    }

    /// <summary>Starts an in-process guest on the backend.</summary>
    public InProcessGuest StartGuest(int pairs = 1, int queueSize = 256)
    {
        Assert.NotNull(Backend);
        Guest = InProcessGuest.Create(Backend!, new InProcessGuestOptions
        {
            Mac = GuestMac,
            QueuePairs = pairs,
            QueueSize = queueSize,
            WorkerMode = NetWorkerMode.Blocking,
            Name = "packet-test",
        });
        return Guest;
    }

    /// <summary>Opens a UDP socket on the kernel's side, bound to <see cref="PeerIp"/>:<paramref name="port"/>.</summary>
    public Socket OpenUdp(int port) => Ns.Enter(() =>
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(PeerIp, port));
        s.ReceiveTimeout = 5000;
        return s;
    });

    /// <summary>Opens a listening TCP socket on the kernel's side.</summary>
    public Socket Listen(int port) => Ns.Enter(() =>
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(PeerIp, port));
        s.Listen(1);
        return s;
    });

    /// <summary>Sends a frame from the guest on a pair, retrying while its transmit ring is full.</summary>
    public void Send(int pair, byte[] frame, VirtioNetHeader header = default)
    {
        InProcessGuest g = Guest!;
        for (int attempt = 0; attempt < 2000; attempt++)
        {
            if (g.Driver.TrySend(pair, frame, header))
            {
                return;
            }

            g.Driver.ReclaimTransmitted(pair);
            Thread.Sleep(1);
        }

        Assert.Fail($"the guest could not send on pair {pair}");
    }

    /// <summary>
    /// Receives frames on every pair until <paramref name="match"/> accepts one (others are skipped) or the time is up.
    /// </summary>
    /// <returns>The matching frame (a copy) and the pair it came on, or null.</returns>
    public (byte[] Frame, VirtioNetHeader Header, int Pair)? WaitForFrame(Func<byte[], VirtioNetHeader, bool> match, int timeoutMs = 5000)
    {
        InProcessGuest g = Guest!;
        long deadline = Environment.TickCount64 + timeoutMs;
        while (Environment.TickCount64 < deadline)
        {
            bool any = false;
            for (int p = 0; p < g.Driver.ActivePairs; p++)
            {
                while (g.Driver.TryReceive(p, _receive, out VirtioNetHeader header, out int length))
                {
                    any = true;
                    byte[] frame = _receive.AsSpan(0, length).ToArray();
                    if (match(frame, header))
                    {
                        return (frame, header, p);
                    }
                }
            }

            if (!any)
            {
                g.WaitForUsed(0, 5);
            }
        }

        return null;
    }

    /// <summary>The backend's and the device's counters, for failure messages.</summary>
    public string Describe()
    {
        var b = new System.Text.StringBuilder();
        for (int q = 0; Backend is not null && q < Backend.QueueCount; q++)
        {
            PacketQueueCounters c = Backend.GetCounters(q);
            b.Append(System.Globalization.CultureInfo.InvariantCulture, $"[backend q{q}: rx {c.ReceivedFrames} tx {c.TransmittedFrames} busy {c.TransmitBusy} nobuf {c.ReceiveNoBuffers} hostfilt {c.ReceiveHostFiltered} bad {c.ReceiveBadFrame} down {c.ReceiveQueueDown} trunc {c.ReceiveTruncated} kdrops {c.KernelDrops} txerr {c.TransmitErrors}/{c.TransmitInvalid}/{c.TransmitTooLong}/{c.TransmitLinkDown} faulted {c.IsFaulted}] ");
        }

        for (int i = 0; Guest is not null && i < 2 * Guest.Driver.QueuePairs; i++)
        {
            b.Append(System.Globalization.CultureInfo.InvariantCulture, $"[device q{i}: {Guest.Device.GetCounters(i)}] ");
        }

        return b.ToString();
    }

    public void Dispose()
    {
        Guest?.Dispose();
        Backend?.Dispose();
        Ns.Dispose();
    }
}
