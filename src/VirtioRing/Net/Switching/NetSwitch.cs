using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using VirtioRing.Net.Backends;

namespace VirtioRing.Net.Switching;

/// <summary>
/// The peer-guest switch: an internal Ethernet LAN between guests (and external backends) served by one process. A
/// frame goes from the sender's transmit chain straight into each receiver's buffers (one copy, by the receiver's
/// <see cref="INetBackendHost.Deliver"/>; the switch passes the <see cref="NetFrame"/> through unchanged).
/// </summary>
/// <remarks>
/// <para><b>Forwarding</b> (IEEE 802.1D transparent bridging, without spanning tree): the source address of every frame
/// is learned on the port it came from (a move to another port is learned at once); learned addresses age out after
/// <see cref="NetSwitchOptions.MacAgingTime"/> without traffic. Known unicast goes to its port only; broadcast,
/// multicast and unknown unicast are flooded to every other port; a port never gets its own frame back (a unicast to
/// an address learned on the sender's own port is dropped as no route).</para>
/// <para><b>Threading.</b> Any number of sender threads forward at once (each queue of each port driven by one thread
/// at a time, as <see cref="INetBackend"/> requires); MAC lookups are lock-free; learning a new address, adding and
/// removing ports and bindings take a lock. Ports are at most 64 (<see cref="NetSwitchOptions.MaxPortLimit"/>).</para>
/// <para><b>Flow control</b>: see <see cref="NetSwitchFlowControl"/>. In lossless mode a frame that a destination cannot
/// take is held in the sender's chain (<see cref="NetTransmitStatus.Busy"/>); the destination wakes the sender when it
/// has room; the engine offers the same frame again and it goes only to the destinations that did not get it yet.</para>
/// <para><b>Port indices</b> are reused after <see cref="RemovePort"/>: a frame held for flow control when its
/// destination was removed, and offered again after a new port took the index, may skip that new port once.</para>
/// <para><b>Counters</b>: per port, as a snapshot (<see cref="NetSwitchPort.GetCounters"/>). The switch does not publish
/// them through <c>System.Diagnostics.Metrics</c> itself (the netstandard2.0 build has no Meter without an extra
/// package); an observable gauge over the snapshot is a few lines for the host.</para>
/// </remarks>
[DebuggerDisplay("{PortCount} ports, {MacCount} addresses")]
public sealed partial class NetSwitch : IDisposable
{
    private readonly NetSwitchPort?[] _ports;
    private readonly object _gate = new();
    private readonly MacLearningTable _macs;
    private readonly INetSwitchClock _clock;
    private readonly bool _lossless;
    private readonly bool _queueAffinity;
    private readonly int _learnLimit;
    private ulong _activeMask;

    /// <summary>Creates a switch with default options.</summary>
    public NetSwitch()
        : this(new NetSwitchOptions())
    {
    }

    /// <summary>Creates a switch.</summary>
    /// <param name="options">The options.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is outside its range.</exception>
    public NetSwitch(NetSwitchOptions options)
    {
        if (options is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(options));
        }

        if (options.MaxPorts is < 2 or > NetSwitchOptions.MaxPortLimit)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options), "MaxPorts must be 2 to 64.");
        }

        if (options.MacTableCapacity is < 1 or > 1 << 20)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options), "MacTableCapacity must be 1 to 2^20.");
        }

        if (options.MaxLearnedAddressesPerPort is < 0 or > 1 << 20)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options), "MaxLearnedAddressesPerPort must be 0 to 2^20.");
        }

        if (options.GuestPortQueues is < 1 or > 0x8000)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options), "GuestPortQueues must be 1 to 32768.");
        }

        if (options.MacAgingTime <= TimeSpan.Zero)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options), "MacAgingTime must be positive.");
        }

        if (options.FlowControl is not (NetSwitchFlowControl.Lossless or NetSwitchFlowControl.DropAndCount))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options), "Unknown flow control.");
        }

        if (options.GuestSteering is not (NetSwitchSteering.Flow or NetSwitchSteering.QueueAffinity))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options), "Unknown guest steering.");
        }

        Options = options;
        _clock = options.Clock ?? StopwatchSwitchClock.Instance;
        double ticks = options.MacAgingTime.TotalSeconds * _clock.TicksPerSecond;
        long agingTicks = options.MacAgingTime == TimeSpan.MaxValue || ticks >= long.MaxValue / 2 ? long.MaxValue : Math.Max(1, (long)ticks);
        _macs = new MacLearningTable(options.MacTableCapacity, agingTicks, staticReserve: options.MaxPorts);
        _learnLimit = options.MaxLearnedAddressesPerPort ?? Math.Max(1, options.MacTableCapacity / options.MaxPorts);
        _lossless = options.FlowControl == NetSwitchFlowControl.Lossless;
        _queueAffinity = options.GuestSteering == NetSwitchSteering.QueueAffinity;
        _ports = new NetSwitchPort?[options.MaxPorts];
        if (options.MeterName is { } meterName)
        {
            InitializeMetrics(meterName);
        }
    }

    /// <summary>Gets the options.</summary>
    public NetSwitchOptions Options { get; }

    /// <summary>Gets the most ports at once.</summary>
    public int MaxPorts => _ports.Length;

    /// <summary>Gets the number of ports.</summary>
    public int PortCount
    {
        get
        {
            ulong m = Volatile.Read(ref _activeMask);
            int n = 0;
            for (; m != 0; m &= m - 1)
            {
                n++;
            }

            return n;
        }
    }

    /// <summary>Gets the number of addresses in the MAC table (learned, possibly expired but not yet swept, and static).</summary>
    public int MacCount => _macs.Count;

    /// <summary>Gets how many new source addresses were not learned because the MAC table was full.</summary>
    public long MacTableOverflows => _macs.Overflows;

    /// <summary>Adds a guest port with <see cref="NetSwitchOptions.GuestPortQueues"/> queues and no static address.</summary>
    /// <param name="name">A name for diagnostics.</param>
    /// <returns>The port: the guest device's backend.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The switch has <see cref="MaxPorts"/> ports.</exception>
    public NetSwitchPort AddGuestPort(string name) => AddGuestPort(name, null, Options.GuestPortQueues);

    /// <summary>Adds a guest port.</summary>
    /// <param name="name">A name for diagnostics.</param>
    /// <param name="mac">The guest's MAC address, entered as a static table entry (needed for <see cref="BindPeerQueues"/>), or null to learn it.</param>
    /// <param name="queueCount">The port's queues (the device binds its pair <c>p</c> to queue <c>p % queueCount</c>), 1 to 32768.</param>
    /// <returns>The port: the guest device's backend.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="mac"/> is a group address, or already a static entry.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queueCount"/> is outside its range.</exception>
    /// <exception cref="InvalidOperationException">The switch has <see cref="MaxPorts"/> ports.</exception>
    public NetSwitchPort AddGuestPort(string name, MacAddress? mac, int queueCount)
    {
        if (queueCount is < 1 or > 0x8000)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queueCount), "A port has 1 to 32768 queues.");
        }

        return AddPort(name, mac, queueCount, null, null);
    }

    /// <summary>
    /// Adds an external backend (a TAP device, a packet socket) as a port: the switch calls its
    /// <see cref="INetBackend.Attach"/> with itself as the host, so frames the backend delivers are switched, and
    /// frames for the port go to the backend's <see cref="INetBackend.Transmit"/>.
    /// </summary>
    /// <param name="name">A name for diagnostics.</param>
    /// <param name="backend">The backend (not attached to anything else).</param>
    /// <param name="receiveReady">Signalled when the backend wakes a queue: the caller's thread should then call
    /// <see cref="NetSwitchPort.PumpReceive"/>. Null to poll <see cref="NetSwitchPort.HasReceivePending"/> instead.</param>
    /// <returns>The port.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="backend"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The backend has no queues or more than 32768.</exception>
    /// <exception cref="InvalidOperationException">The switch has <see cref="MaxPorts"/> ports.</exception>
    public NetSwitchPort AddBackendPort(string name, INetBackend backend, INotifier? receiveReady = null)
    {
        if (backend is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(backend));
        }

        int queues = backend.QueueCount;
        if (queues is < 1 or > 0x8000)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(backend), "A backend has 1 to 32768 queues.");
        }

        return AddPort(name, null, queues, backend, receiveReady);
    }

    /// <summary>
    /// Removes a port at run time: its addresses and bindings are forgotten, frames to it are no longer sent (a frame
    /// in flight may still reach it), senders held for it are woken (their frame is then dropped for it), frames it
    /// sends afterwards are dropped (<see cref="NetSwitchPortCounters.DroppedQueueDown"/>), and an external backend is
    /// detached. A guest's device keeps running; detach it from the port yourself.
    /// </summary>
    /// <param name="port">The port.</param>
    /// <returns><see langword="false"/> when it was already removed.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="port"/> is null.</exception>
    /// <exception cref="ArgumentException">The port belongs to another switch.</exception>
    public bool RemovePort(NetSwitchPort port)
    {
        CheckPort(port, nameof(port));
        lock (_gate)
        {
            if (port.IsRemoved)
            {
                return false;
            }

            port.MarkRemoved();
            Volatile.Write(ref _activeMask, _activeMask & ~port.Bit);
            Volatile.Write(ref _ports[port.Index], null);
            _macs.RemovePort(port.Index);
            UnbindAllLocked(port);
        }

        if (port.Backend is { } backend)
        {
            // Wait for transmits in flight on each backend queue, then detach: no call follows Detach.
            for (int q = 0; q < port.QueueCount; q++)
            {
                lock (port.EgressGate(q))
                {
                }
            }

            backend.Detach();
        }

        WakeWaitersOn(port);
        return true;
    }

    /// <summary>
    /// Binds a per-MAC fast path: frames from <paramref name="a"/> to <paramref name="b"/>'s address are delivered to
    /// <paramref name="b"/> with queue hint <paramref name="pairOnB"/>, and frames from <paramref name="b"/> to
    /// <paramref name="a"/> with hint <paramref name="pairOnA"/>; a transmit queue bound to exactly one peer compares
    /// the destination with that peer's address instead of looking it up. Replaces an earlier binding of the same two
    /// ports. Give each guest's <see cref="Multiqueue.DestinationMacTxQueueSelector"/> the map
    /// (<see cref="NetSwitchPort.AssignPeerQueues"/>) so it sends to each peer on the dedicated pair.
    /// </summary>
    /// <param name="a">A port with a static MAC address.</param>
    /// <param name="pairOnA">The queue pair on <paramref name="a"/> for <paramref name="b"/>.</param>
    /// <param name="b">Another port with a static MAC address.</param>
    /// <param name="pairOnB">The queue pair on <paramref name="b"/> for <paramref name="a"/>.</param>
    /// <exception cref="ArgumentNullException">A port is null.</exception>
    /// <exception cref="ArgumentException">A port belongs to another switch, was removed, or both are the same.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A pair is not below its port's <see cref="NetSwitchPort.QueueCount"/>.</exception>
    /// <exception cref="InvalidOperationException">A port has no static MAC address.</exception>
    public void BindPeerQueues(NetSwitchPort a, int pairOnA, NetSwitchPort b, int pairOnB)
    {
        CheckPort(a, nameof(a));
        CheckPort(b, nameof(b));
        if (ReferenceEquals(a, b))
        {
            ThrowHelper.ThrowArgument(nameof(b), "A port cannot be its own peer.");
        }

        if ((uint)pairOnA >= (uint)a.QueueCount)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(pairOnA), "No such queue pair on the port.");
        }

        if ((uint)pairOnB >= (uint)b.QueueCount)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(pairOnB), "No such queue pair on the port.");
        }

        if (a.Mac is null || b.Mac is null)
        {
            ThrowHelper.ThrowInvalidOperation("A per-MAC fast path needs both ports to have a static MAC address.");
        }

        lock (_gate)
        {
            if (a.IsRemoved || b.IsRemoved)
            {
                ThrowHelper.ThrowArgument(nameof(a), "The port was removed.");
            }

            a.SetPeerPair(b.Index, pairOnA);
            b.SetPeerPair(a.Index, pairOnB);
            RecomputeTxPeersLocked(a);
            RecomputeTxPeersLocked(b);
        }
    }

    /// <summary>Removes the fast path between two ports (frames between them go on the ordinary path).</summary>
    /// <param name="a">A port.</param>
    /// <param name="b">Another port.</param>
    /// <returns>Whether they were bound.</returns>
    /// <exception cref="ArgumentNullException">A port is null.</exception>
    /// <exception cref="ArgumentException">A port belongs to another switch.</exception>
    public bool UnbindPeerQueues(NetSwitchPort a, NetSwitchPort b)
    {
        CheckPort(a, nameof(a));
        CheckPort(b, nameof(b));
        lock (_gate)
        {
            bool bound = a.PeerPair(b.Index) >= 0 || b.PeerPair(a.Index) >= 0;
            a.SetPeerPair(b.Index, -1);
            b.SetPeerPair(a.Index, -1);
            RecomputeTxPeersLocked(a);
            RecomputeTxPeersLocked(b);
            return bound;
        }
    }

    /// <summary>Looks up where frames to an address go now (static, or learned and not expired).</summary>
    /// <param name="mac">The address.</param>
    /// <param name="port">The port, when found.</param>
    /// <returns>Whether the address is known.</returns>
    public bool TryGetPort(MacAddress mac, out NetSwitchPort? port)
    {
        int i = _macs.Lookup(mac.Value, _clock.GetTimestamp());
        port = i >= 0 ? Volatile.Read(ref _ports[i]) : null;
        return port is not null;
    }

    /// <summary>Sets a port's limit of learned addresses (<see cref="NetSwitchPort.MaxLearnedAddresses"/>).</summary>
    internal void SetLearnLimit(NetSwitchPort port, int limit)
    {
        lock (_gate)
        {
            if (!port.IsRemoved)
            {
                _macs.SetPortLimit(port.Index, limit);   // the index is the port's until it is removed
            }
        }
    }

    /// <summary>Gets how many learned addresses a port holds now.</summary>
    internal int LearnedCount(NetSwitchPort port) => port.IsRemoved ? 0 : _macs.LearnedOn(port.Index);

    /// <summary>Forgets every learned address not seen within the aging time (expired addresses are already ignored; this frees their slots).</summary>
    /// <returns>How many were forgotten.</returns>
    public int SweepExpiredAddresses() => _macs.Sweep(_clock.GetTimestamp());

    internal IReadOnlyList<NetSwitchPeerQueue> GetPeerQueues(NetSwitchPort port)
    {
        var list = new List<NetSwitchPeerQueue>();
        lock (_gate)
        {
            for (int i = 0; i < _ports.Length; i++)
            {
                int pair = port.PeerPair(i);
                if (pair >= 0 && _ports[i] is { Mac: { } mac } peer)
                {
                    list.Add(new NetSwitchPeerQueue(peer, mac, pair));
                }
            }
        }

        return list;
    }

    internal NetSwitchPortCounters GetCounters(NetSwitchPort port)
    {
        long inFrames = 0, inBytes = 0, flooded = 0, held = 0, filtered = 0, noRoute = 0, queueDown = 0, bad = 0, refused = 0;
        long outFrames = 0, outBytes = 0, noBuffers = 0;
        int me = port.Index;
        for (int q = 0; q < port.QueueCount; q++)
        {
            if (port.PeekQueue(q) is { } s)
            {
                inFrames += s.InFrames;
                inBytes += s.InBytes;
                flooded += s.Flooded;
                held += s.Held;
                filtered += s.InFiltered;
                noRoute += s.InNoRoute;
                queueDown += s.InQueueDown;
                bad += s.InBadFrame;
                refused += s.LearningRefused;
            }
        }

        NetSwitchPort?[] all = _ports;
        for (int p = 0; p < all.Length; p++)
        {
            NetSwitchPort? sender = Volatile.Read(ref all[p]);
            if (sender is null)
            {
                continue;
            }

            for (int q = 0; q < sender.QueueCount; q++)
            {
                if (sender.PeekQueue(q) is { } s)
                {
                    outFrames += s.OutFrames[me];
                    outBytes += s.OutBytes[me];
                    filtered += s.OutFiltered[me];
                    noBuffers += s.OutNoBuffers[me];
                    queueDown += s.OutQueueDown[me];
                    bad += s.OutBadFrame[me];
                }
            }
        }

        return new NetSwitchPortCounters
        {
            ReceivedFrames = inFrames,
            ReceivedBytes = inBytes,
            FloodedFrames = flooded,
            HeldFrames = held,
            ForwardedFrames = outFrames,
            ForwardedBytes = outBytes,
            DroppedFiltered = filtered,
            DroppedNoBuffers = noBuffers,
            DroppedNoRoute = noRoute,
            DroppedQueueDown = queueDown,
            DroppedBadFrame = bad,
            LearningRefused = refused,
        };
    }

    /// <summary>Wakes every sender queue held for <paramref name="target"/> (it has room again, or is gone).</summary>
    internal void WakeWaitersOn(NetSwitchPort target)
    {
        ulong bit = target.Bit;
        NetSwitchPort?[] all = _ports;
        for (int p = 0; p < all.Length; p++)
        {
            NetSwitchPort? sender = Volatile.Read(ref all[p]);
            if (sender is null)
            {
                continue;
            }

            for (int q = 0; q < sender.QueueCount; q++)
            {
                if (sender.PeekQueue(q) is { } s && (Volatile.Read(ref s.WaitingOn) & bit) != 0)
                {
                    s.Notify();
                }
            }
        }
    }

    private NetSwitchPort AddPort(string name, MacAddress? mac, int queueCount, INetBackend? backend, INotifier? receiveReady)
    {
        if (name is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(name));
        }

        if (mac is { IsMulticast: true })
        {
            ThrowHelper.ThrowArgument(nameof(mac), "A port's address is unicast.");
        }

        lock (_gate)
        {
            int index = Array.IndexOf(_ports, null);
            if (index < 0)
            {
                ThrowHelper.ThrowInvalidOperation("The switch has its maximum number of ports.");
            }

            if (mac is { } m && _macs.Lookup(m.Value, _clock.GetTimestamp()) is int owner && owner >= 0 && _ports[owner]?.Mac == m)
            {
                ThrowHelper.ThrowArgument(nameof(mac), "Another port has this static address.");
            }

            var port = new NetSwitchPort(this, index, name, mac, queueCount, backend, receiveReady, _learnLimit);
            _macs.SetPortLimit(index, _learnLimit);
            if (mac is { } address && !_macs.AddStatic(address.Value, index, _clock.GetTimestamp()))
            {
                ThrowHelper.ThrowInvalidOperation("The MAC table is full.");
            }

            if (backend is not null)
            {
                backend.Attach(port.BackendAsHost!);    // before the port is visible: no frame reaches an unattached backend
            }

            Volatile.Write(ref _ports[index], port);
            Volatile.Write(ref _activeMask, _activeMask | port.Bit);
            return port;
        }
    }

    private void UnbindAllLocked(NetSwitchPort port)
    {
        for (int i = 0; i < _ports.Length; i++)
        {
            port.SetPeerPair(i, -1);
            if (_ports[i] is { } other && other.PeerPair(port.Index) >= 0)
            {
                other.SetPeerPair(port.Index, -1);
                RecomputeTxPeersLocked(other);
            }
        }

        RecomputeTxPeersLocked(port);
    }

    /// <summary>Each queue of a port bound to exactly one peer remembers it (-1 none, -2 several).</summary>
    private void RecomputeTxPeersLocked(NetSwitchPort port)
    {
        for (int q = 0; q < port.QueueCount; q++)
        {
            int peer = -1;
            for (int i = 0; i < _ports.Length; i++)
            {
                if (port.PeerPair(i) == q)
                {
                    peer = peer == -1 ? i : -2;
                }
            }

            port.SetTxPeer(q, peer);
        }
    }

    private void CheckPort(NetSwitchPort port, string paramName)
    {
        if (port is null)
        {
            ThrowHelper.ThrowArgumentNull(paramName);
        }

        if (!ReferenceEquals(port.Switch, this))
        {
            ThrowHelper.ThrowArgument(paramName, "The port belongs to another switch.");
        }
    }
}
