using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using System.Threading;
using VirtioRing.Linux.Tap;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using VirtioRing.Net.Driver;
using VirtioRing.Net.InProcess;
using VirtioRing.Net.Switching;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>Every TAP test against the kernel runs in this collection: one at a time (each in its own namespace), beside the unprivileged tests.</summary>
[CollectionDefinition(Name)]
public sealed class TapCollection
{
    public const string Name = "TAP (real kernel, one namespace each)";
}

/// <summary>
/// A TAP backend created inside a fresh network namespace (the kernel side of the TAP is
/// <see cref="HostIp"/>/24 there, IPv6 off so nothing else talks) and an in-process guest
/// (<see cref="GuestIp"/>, <see cref="GuestMac"/>) on it, with the guest-side helpers the tests use:
/// send a frame, wait for a frame that matches (answering the kernel's ARP requests meanwhile).
/// Disposing removes the guest, the TAP and the namespace, in that order, also after a failure.
/// </summary>
internal sealed class TapLab : IDisposable
{
    public static readonly IPAddress HostIp = IPAddress.Parse("10.77.0.1");
    public static readonly IPAddress GuestIp = IPAddress.Parse("10.77.0.2");
    public static readonly MacAddress GuestMac = MacAddress.Parse("52:54:00:77:00:02");

    private readonly byte[] _receiveBuffer = new byte[70_000];
    private InProcessGuest? _guest;
    private TapBackend? _backend;
    private NetSwitch? _switch;
    private NetSwitchPort? _tapPort;
    private Thread? _pump;
    private readonly AutoResetEvent _pumpReady = new(false);
    private volatile bool _stopPump;

    private TapLab(NetNamespace ns)
    {
        Namespace = ns;
    }

    public NetNamespace Namespace { get; }

    public TapBackend Backend => _backend!;

    public InProcessGuest Guest => _guest!;

    public NetDriver Driver => Guest.Driver;

    public string TapName => Backend.Name;

    /// <summary>Gets the kernel side's MAC (the TAP's own address).</summary>
    public MacAddress HostMac { get; private set; }

    /// <summary>Gets the frames <see cref="Receive"/> passed over (not matched, not ARP for the guest).</summary>
    public int Ignored { get; private set; }

    /// <summary>Gets the switch between the guest and the TAP when the lab was built with <c>viaSwitch</c> (the TAP delivers to it, not to a device).</summary>
    public NetSwitch? Switch => _switch;

    /// <summary>Gets the switch port of the TAP (with <c>viaSwitch</c>).</summary>
    public NetSwitchPort? TapPort => _tapPort;

    /// <summary>
    /// Builds the lab. With <paramref name="viaSwitch"/> the guest and the TAP are two ports of a
    /// <see cref="NetSwitch"/> (the TAP's host is then the switch, which lends no buffers: frames go
    /// through <c>Deliver</c>), pumped by a thread of the lab; otherwise the guest's device drives the TAP.
    /// </summary>
    public static TapLab Create(int queues = 1, TapOptions? tap = null, Func<InProcessGuestOptions, InProcessGuestOptions>? guest = null, bool permanentNeighbor = true, bool viaSwitch = false)
    {
        Requirements.Require();
        var lab = new TapLab(NetNamespace.Create());
        try
        {
            TapOptions options = tap ?? new TapOptions { Queues = queues };
            lab._backend = lab.Namespace.Enter(() => TapBackend.Create(options));
            string name = lab._backend.Name;
            lab.Namespace.Exec("sysctl", "-qw", $"net.ipv6.conf.{name}.disable_ipv6=1");
            lab.Namespace.Ip("addr", "add", HostIp + "/24", "dev", name);
            lab.Namespace.Ip("link", "set", "dev", name, "up");
            if (permanentNeighbor)
            {
                lab.Namespace.Ip("neigh", "replace", GuestIp.ToString(), "lladdr", GuestMac.ToString(), "dev", name, "nud", "permanent");
            }

            string link = lab.Namespace.Ip("-br", "link", "show", "dev", name);
            Match m = Regex.Match(link, "([0-9a-f]{2}(:[0-9a-f]{2}){5})");
            Assert.True(m.Success, "no MAC in: " + link);
            lab.HostMac = MacAddress.Parse(m.Value);

            var guestOptions = new InProcessGuestOptions { Mac = GuestMac, QueuePairs = queues, Name = "tap-test" };
            guestOptions = guest is null ? guestOptions : guest(guestOptions);
            if (viaSwitch)
            {
                lab._switch = new NetSwitch(new NetSwitchOptions { GuestPortQueues = queues });
                NetSwitchPort guestPort = lab._switch.AddGuestPort("guest", GuestMac, queues);
                lab._guest = InProcessGuest.Create(guestPort, guestOptions);
                lab._tapPort = lab._switch.AddBackendPort("tap", lab._backend, new Pulse(lab._pumpReady));
                lab._pump = new Thread(lab.Pump) { IsBackground = true, Name = "tap lab switch pump" };
                lab._pump.Start();
            }
            else
            {
                lab._guest = InProcessGuest.Create(lab._backend, guestOptions);
            }

            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Sends a frame on a pair, reclaiming used transmit buffers until there is room (bounded).</summary>
    public void Send(byte[] frame, VirtioNetHeader header = default, int pair = 0)
    {
        var clock = Stopwatch.StartNew();
        while (!Driver.TrySend(pair, frame, header))
        {
            Driver.ReclaimTransmitted(pair);
            Assert.True(clock.ElapsedMilliseconds < 3000, $"pair {pair}: no transmit room for 3 s");
            Thread.Sleep(1);
        }

        Driver.ReclaimTransmitted(pair);
    }

    /// <summary>
    /// Waits for a frame on any of <paramref name="pairs"/> (all pairs when none are given) that
    /// <paramref name="match"/> accepts; answers ARP requests for the guest's address on the way.
    /// </summary>
    /// <returns>The frame, its header and its pair; null frame on timeout.</returns>
    public (byte[]? Frame, VirtioNetHeader Header, int Pair) Receive(Func<byte[], VirtioNetHeader, bool> match, int timeoutMs = 2000, params int[] pairs)
    {
        if (pairs.Length == 0)
        {
            pairs = new int[Driver.ActivePairs];
            for (int i = 0; i < pairs.Length; i++)
            {
                pairs[i] = i;
            }
        }

        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < timeoutMs)
        {
            bool any = false;
            foreach (int pair in pairs)
            {
                while (Driver.TryReceive(pair, _receiveBuffer, out VirtioNetHeader header, out int length))
                {
                    any = true;
                    byte[] frame = _receiveBuffer.AsSpan(0, length).ToArray();
                    if (AnswerArp(frame, pair))
                    {
                        continue;
                    }

                    if (match(frame, header))
                    {
                        return (frame, header, pair);
                    }

                    Ignored++;
                }
            }

            if (!any)
            {
                Guest.WaitForUsed(2 * pairs[0], pairs.Length == 1 ? 20 : 2);
            }
        }

        return (null, default, -1);
    }

    /// <summary>Waits for an IPv4 frame of a protocol from the host to the guest that <paramref name="match"/> accepts (given the IP packet).</summary>
    public (byte[]? Frame, VirtioNetHeader Header, int Pair) ReceiveIpv4(byte protocol, Func<byte[], bool> match, int timeoutMs = 2000, params int[] pairs) =>
        Receive(
            (f, _) =>
            {
                ReadOnlySpan<byte> ip = Packets.Ipv4Packet(f);
                return !ip.IsEmpty && ip[9] == protocol && Packets.Ipv4Destination(ip).Equals(GuestIp) && Packets.Ipv4Source(ip).Equals(HostIp) && match(ip.ToArray());
            },
            timeoutMs,
            pairs);

    public byte[] Ipv4Frame(byte protocol, byte[] payload, ushort id = 1) =>
        Packets.Ethernet(HostMac, GuestMac, Packets.EtherTypeIpv4, Packets.Ipv4(GuestIp, HostIp, protocol, payload, id));

    public void Dispose()
    {
        // The pump and the guest first (the device or the switch detaches the backend), then the TAP, then the namespace.
        try
        {
            _stopPump = true;
            _pumpReady.Set();
            _pump?.Join();
            _guest?.Dispose();
            _switch?.Dispose();
        }
        finally
        {
            try
            {
                _backend?.Dispose();
            }
            finally
            {
                Namespace.Dispose();
            }
        }
    }

    private void Pump()
    {
        while (!_stopPump)
        {
            _pumpReady.WaitOne(100);
            while (!_stopPump && _tapPort!.HasReceivePending)
            {
                _tapPort.PumpReceive(64);
            }
        }
    }

    private bool AnswerArp(byte[] frame, int pair)
    {
        if (Packets.EtherType(frame) != Packets.EtherTypeArp || frame.Length < Packets.EthernetHeader + 28)
        {
            return false;
        }

        ReadOnlySpan<byte> arp = frame.AsSpan(Packets.EthernetHeader);
        if (BinaryPrimitives.ReadUInt16BigEndian(arp.Slice(6)) == 1 && new IPAddress(arp.Slice(24, 4)).Equals(GuestIp))
        {
            MacAddress askerMac = MacAddress.Read(arp.Slice(8));
            var askerIp = new IPAddress(arp.Slice(14, 4));
            Send(Packets.Arp(reply: true, GuestMac, GuestIp, askerMac, askerIp), default, pair);
            return true;
        }

        return false;
    }

    private sealed class Pulse(AutoResetEvent e) : VirtioRing.Net.Backends.INotifier
    {
        public void Notify() => e.Set();
    }
}
