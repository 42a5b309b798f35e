using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Multiqueue;

namespace VirtioRing.Net.Switching;

/// <summary>
/// A port of a <see cref="NetSwitch"/>: a guest (<see cref="NetSwitch.AddGuestPort(string)"/>: this object is the
/// guest's <see cref="INetBackend"/>, give it to the guest's device) or an external backend
/// (<see cref="NetSwitch.AddBackendPort"/>: the switch is that backend's <see cref="INetBackendHost"/>).
/// </summary>
/// <remarks>
/// <para><b>Guest port.</b> The device calls <see cref="INetBackend.Attach"/> with itself, then, from each queue pair's
/// worker, <see cref="INetBackend.Transmit"/> (the switch forwards the frame: one copy from the sender's chain into each
/// receiver's buffers, through the receiver's <see cref="INetBackendHost.Deliver"/>), <see cref="INetBackend.FlushTransmit"/>
/// (publishes to every receiver touched since the last flush) and <see cref="INetBackend.Receive"/> (always 0: frames for
/// this guest are pushed by the senders' threads). Offloads: all (<see cref="NetOffloads.All"/>); the receiving device
/// adapts a frame to what its guest accepted.</para>
/// <para><b>Backend port.</b> Frames the backend delivers are switched like a guest's. When the backend wakes a queue
/// (<see cref="INetBackendHost.Wake"/>), the switch marks it and signals the port's <c>receiveReady</c> notifier; the
/// caller's thread then calls <see cref="PumpReceive"/>, which calls the backend's <see cref="INetBackend.Receive"/> for
/// each woken queue and publishes what was delivered. Frames to the backend go through its
/// <see cref="INetBackend.Transmit"/> on backend queue <c>sender queue % QueueCount</c> (serialised per backend queue),
/// segmented and checksummed in software first when the backend lacks the offload a frame needs. The switch's
/// <see cref="INetBackendHost.Deliver"/> takes the backend queue the frame came from as its hint (-1: queue 0) and answers
/// <see cref="NetDeliveryStatus.Delivered"/> when the frame was switched, <see cref="NetDeliveryStatus.NoBuffers"/> when
/// it is held (lossless mode: keep it and offer it again on a later <see cref="INetBackend.Receive"/> of that queue — the
/// switch wakes the queue when the destination has room), <see cref="NetDeliveryStatus.Filtered"/> when it was dropped
/// (counted on the ports). Deliveries made outside <see cref="PumpReceive"/> are published at once.</para>
/// </remarks>
[DebuggerDisplay("{Name,nq} (port {Index}, {IsGuest ? \"guest\" : \"backend\",nq})")]
public sealed partial class NetSwitchPort : INetBackend, INetBackendHoldAware
{
    private readonly NetSwitch _switch;
    private readonly SenderQueue?[] _queues;
    private readonly int[] _peerPair;        // by peer port index: the pair on this port for frames from that peer, or -1
    private readonly int[] _txPeer;          // by queue: the one peer bound to it, -1 none, -2 several
    private INetBackendHost? _host;
    private INetSwitchFilter? _ingressFilter;
    private INetSwitchFilter? _egressFilter;
    private volatile bool _removed;
    private int _maxLearned;

    internal NetSwitchPort(NetSwitch owner, int index, string name, MacAddress? mac, int queueCount, INetBackend? backend, INotifier? receiveReady, int maxLearned)
    {
        _maxLearned = maxLearned;
        _switch = owner;
        Index = index;
        Bit = 1UL << index;
        Name = name;
        Mac = mac;
        MacKey = mac.HasValue ? mac.Value.Value : ulong.MaxValue;
        QueueCount = queueCount;
        Backend = backend;
        _queues = new SenderQueue?[queueCount];
        _peerPair = new int[owner.MaxPorts];
        _txPeer = new int[queueCount];
        _peerPair.AsSpan().Fill(-1);
        _txPeer.AsSpan().Fill(-1);
        if (backend is not null)
        {
            _egressGates = new object[queueCount];
            _scratch = new EgressScratch?[queueCount];
            _rxPending = new int[queueCount];
            for (int i = 0; i < queueCount; i++)
            {
                _egressGates[i] = new object();
            }

            _receiveReady = receiveReady;
            _backendHost = new BackendHost(this);
        }
    }

    /// <summary>Gets the port's name.</summary>
    public string Name { get; }

    /// <summary>Gets the port's index in the switch (0 to <see cref="NetSwitchOptions.MaxPorts"/> − 1; reused after removal).</summary>
    public int Index { get; }

    /// <summary>Gets the switch.</summary>
    public NetSwitch Switch => _switch;

    /// <summary>Gets whether this is a guest port (else an external backend's port).</summary>
    public bool IsGuest => Backend is null;

    /// <summary>Gets the external backend of a backend port (else null).</summary>
    public INetBackend? Backend { get; }

    /// <summary>Gets the port's own MAC address when it was given (a static entry: never ages, never moves), else null.</summary>
    public MacAddress? Mac { get; }

    /// <summary>Gets the number of queues: the guest device's backend queues, or the external backend's.</summary>
    public int QueueCount { get; }

    /// <summary>Gets whether the port was removed from its switch.</summary>
    public bool IsRemoved => _removed;

    /// <summary>Gets or sets the filter applied to frames this port sends (before each destination); null for none. May change at any
    /// time (a frame forwarded while a filter is being installed may not see it, or may be inspected in place). While any port has
    /// a filter, frames from guests are copied once and the copy is inspected and delivered (see <see cref="INetSwitchFilter"/>).</summary>
    public INetSwitchFilter? IngressFilter
    {
        get => Volatile.Read(ref _ingressFilter);
        set => _switch.ReplaceFilter(ref _ingressFilter, value);
    }

    /// <summary>Gets or sets the filter applied to frames going to this port; null for none. May change at any time (as
    /// <see cref="IngressFilter"/>).</summary>
    public INetSwitchFilter? EgressFilter
    {
        get => Volatile.Read(ref _egressFilter);
        set => _switch.ReplaceFilter(ref _egressFilter, value);
    }

    /// <summary>
    /// Gets or sets the most learned MAC addresses this port may hold (initially
    /// <see cref="NetSwitchOptions.MaxLearnedAddressesPerPort"/>); 0 learns none. May change at any time; lowering it
    /// forgets nothing (entries above it go as they age out or move).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int MaxLearnedAddresses
    {
        get => Volatile.Read(ref _maxLearned);
        set
        {
            if (value < 0)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), "The limit is 0 or more.");
            }

            Volatile.Write(ref _maxLearned, value);
            _switch.SetLearnLimit(this, value);
        }
    }

    /// <summary>Gets how many learned MAC addresses (not expired or not yet swept) the switch holds for this port.</summary>
    public int LearnedAddressCount => _switch.LearnedCount(this);

    /// <summary>Gets whether the device is attached (guest port) or the backend attached (backend port).</summary>
    public bool IsAttached => Backend is not null || Volatile.Read(ref _host) is not null;

    internal ulong Bit { get; }

    internal ulong MacKey { get; }

    internal INetBackendHost? Host => Volatile.Read(ref _host);

    /// <inheritdoc/>
    NetOffloads INetBackend.Offloads => NetOffloads.All;

    /// <inheritdoc/>
    int INetBackend.QueueCount => QueueCount;

    /// <summary>Gets a snapshot of the port's counters (sums over every sender queue of the switch; plain reads, so a
    /// counter may lag a frame or two behind the threads that update it).</summary>
    /// <returns>The counters.</returns>
    public NetSwitchPortCounters GetCounters() => _switch.GetCounters(this);

    /// <summary>Gets this port's per-MAC fast-path bindings (<see cref="NetSwitch.BindPeerQueues"/>).</summary>
    /// <returns>A new list (a snapshot).</returns>
    public IReadOnlyList<NetSwitchPeerQueue> GetPeerQueues() => _switch.GetPeerQueues(this);

    /// <summary>
    /// Puts this port's bindings into a guest's transmit-queue selector, so the guest sends to each bound peer on the
    /// pair dedicated to it (call again after a binding changes; stale entries of unbound peers are removed first).
    /// </summary>
    /// <param name="selector">The guest driver's selector.</param>
    /// <returns>How many peers were assigned.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="selector"/> is null.</exception>
    public int AssignPeerQueues(DestinationMacTxQueueSelector selector)
    {
        if (selector is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(selector));
        }

        selector.Clear();
        int n = 0;
        Span<byte> mac = stackalloc byte[MacAddress.Length];
        foreach (NetSwitchPeerQueue binding in GetPeerQueues())
        {
            binding.PeerMac.WriteTo(mac);
            if (selector.TryAssign(mac, (ushort)binding.Pair))
            {
                n++;
            }
        }

        return n;
    }

    /// <inheritdoc/>
    void INetBackend.Attach(INetBackendHost host)
    {
        if (host is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(host));
        }

        if (Backend is not null)
        {
            ThrowHelper.ThrowInvalidOperation("A backend port is driven by the switch, not by a device.");
        }

        if (Interlocked.CompareExchange(ref _host, host, null) is not null)
        {
            ThrowHelper.ThrowInvalidOperation("The port is already attached to a device.");
        }
    }

    /// <inheritdoc/>
    void INetBackend.Detach()
    {
        Volatile.Write(ref _host, null);
        _switch.WakeWaitersOn(this);   // senders held for this guest give up (its queue is down now)
    }

    /// <inheritdoc/>
    NetTransmitStatus INetBackend.Transmit(int queue, in NetFrame frame) => _switch.Forward(this, GetQueue(queue), frame);

    /// <inheritdoc/>
    void INetBackend.FlushTransmit(int queue) => _switch.Flush(GetQueue(queue));

    /// <inheritdoc/>
    int INetBackend.Receive(int queue, int budget) => 0;   // frames for a guest are pushed by the senders' threads

    /// <inheritdoc/>
    void INetBackendHoldAware.AbandonHeld(int queue) => NetSwitch.Abandon(GetQueue(queue));

    internal SenderQueue GetQueue(int queue)
    {
        if ((uint)queue >= (uint)_queues.Length)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queue), "No such port queue.");
        }

        return Volatile.Read(ref _queues[queue]) ?? CreateQueue(queue);
    }

    internal SenderQueue? PeekQueue(int queue) => Volatile.Read(ref _queues[queue]);

    internal int PeerPair(int peerIndex) => Volatile.Read(ref _peerPair[peerIndex]);

    internal void SetPeerPair(int peerIndex, int pair) => Volatile.Write(ref _peerPair[peerIndex], pair);

    internal int TxPeer(int queue) => Volatile.Read(ref _txPeer[queue]);

    internal void SetTxPeer(int queue, int peer) => Volatile.Write(ref _txPeer[queue], peer);

    internal void MarkRemoved() => _removed = true;

    internal void WakeSender(SenderQueue sender)
    {
        if (Backend is null)
        {
            Volatile.Read(ref _host)?.Wake(sender.Queue);
            return;
        }

        // A backend's held frame: let the pump call Receive on that queue again (the backend offers the frame again),
        // and tell the backend if it asked to be told.
        Volatile.Write(ref sender.WokenSinceHeld, 1);
        Interlocked.Exchange(ref sender.BackendWaiter, null)?.Notify();
        MarkReceivePending(sender.Queue);
    }

    private SenderQueue CreateQueue(int queue)
    {
        var created = new SenderQueue(this, queue, _switch.MaxPorts);
        return Interlocked.CompareExchange(ref _queues[queue], created, null) ?? created;
    }
}
