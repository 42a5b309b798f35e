using System;
using System.Diagnostics;
using System.Threading;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Control;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Net.Rx;
using VirtioRing.Queues;

namespace VirtioRing.Net.Engine;

/// <summary>
/// A virtio-net device (virtio 1.3 §5.1) over device-side virtqueues and one <see cref="INetBackend"/>:
/// feature negotiation, config space, the control queue, and N queue pairs whose transmit chains
/// go to the backend and whose receive buffers are filled from it (or from any thread through
/// <see cref="Deliver"/>, e.g. the peer-guest switch).
/// </summary>
/// <remarks>
/// <para><b>Queue numbering</b> (§5.1.2): receiveq(p) = 2p, transmitq(p) = 2p + 1, controlq = 2 × <see cref="MaxQueuePairs"/>.</para>
/// <para><b>Offloads</b>: <see cref="OfferedFeatures"/> is the configured offer restricted to what the
/// backend carries plus <see cref="NetDeviceOptions.SoftwareOffloads"/> (by default everything). On
/// transmit the engine completes a <c>NEEDS_CSUM</c> checksum (in a copy: it never writes a driver
/// buffer) and segments a TSO4/TSO6/USO/UFO super-frame with <c>SoftwareSegmentation</c> when the
/// backend lacks that offload; on receive it segments a GSO frame for a guest that did not accept the
/// matching <c>GUEST_*</c> feature and completes <c>NEEDS_CSUM</c> for a guest without
/// <c>GUEST_CSUM</c>; RSS hashes and the hash report are calculated by the engine.</para>
/// <para><b>Lifecycle</b>: construct, <see cref="SetDriverFeatures"/>, <see cref="SetQueue"/> for each
/// queue, <see cref="Start"/>. <see cref="Stop"/> keeps every queue position and held chain;
/// <see cref="Reset"/> forgets them (the device reset of §2.1).</para>
/// <para><b>Dynamic pairs</b> (<see cref="SetActivePairs"/>, <c>VQ_PAIRS_SET</c>, <c>RSS_CONFIG</c>):
/// a pair leaving the active set is stopped at a round boundary (its worker parked). Its transmit
/// chains stay where they are: a chain held for a busy backend stays held by the pair, the rest stay
/// in the ring; both resume in order when the pair is active again. Its receive queue stops taking
/// deliveries (steering uses only active pairs; a hint is folded onto them), what it pushed is
/// published, its space waiters are woken, and the chains its writer popped but did not fill stay
/// held by the writer and are the first used when the pair returns. Nothing is pushed twice or lost.</para>
/// <para><b>Faults</b>: a queue whose ring breaks the rules stops alone (counted as
/// <see cref="NetQueueCounters.BrokenQueue"/>, <see cref="QueueBroken"/> raised,
/// <see cref="NeedsReset"/> set so the transport can set <c>DEVICE_NEEDS_RESET</c>); the others go on.</para>
/// </remarks>
[DebuggerDisplay("NetDevice {Name} (pairs {ActivePairs}/{MaxQueuePairs}, running = {IsRunning})")]
public sealed partial class NetDevice : INetBackendHost, IDisposable
{
    /// <summary>The default <see cref="NetDeviceOptions.MeterName"/>.</summary>
    public const string DefaultMeterName = "VirtioRing.Net.Device";

    /// <summary>The longest frame the engine copies for software offloads: a 65535-byte IP packet with an Ethernet header and two VLAN tags, rounded up.</summary>
    internal const int MaxFrameBytes = 65664;

    /// <summary>
    /// The longest transmit frame handed on: an IPv6 packet with a full 65535-byte payload (the
    /// 40-byte fixed header is not counted in its payload length) behind an Ethernet header and
    /// two VLAN tags (14 + 8). IPv4's total length includes its header, so IPv4 frames are shorter.
    /// </summary>
    internal const int MaxTransmitFrameBytes = 65535 + 40 + 14 + 8;

    /// <summary>The link header a small-buffer guest's receive limit allows besides the MTU: Ethernet (14) plus one VLAN tag (4).</summary>
    internal const int ReceiveLinkHeaderBytes = 18;

    /// <summary>Enough of a frame to find its EtherType behind two VLAN tags.</summary>
    internal const int EtherTypeProbeLength = 22;

    /// <summary>How much of a frame the filter and the steering look at (all headers they parse).</summary>
    internal const int PeekLength = 256;

    private readonly object _gate = new();
    private readonly object _controlGate = new();
    private readonly NetQueuePair[] _pairs;
    private readonly ReceiveQueueSlot[] _rx;
    private readonly object?[]? _backendGates;
    private readonly int[]? _backendHolder;   // per shared backend queue: the pair holding a busy chain on it, or -1 (under its gate)
    private readonly NetControlLimits _limits;
    private readonly NetDeviceOptions _options;
    private readonly QueueCounterCells _controlCounters = new();
    private readonly AutomaticReceiveSteering _automatic;
    private readonly Exception?[] _backendFaults;
    private IDeviceQueue? _controlQueue;
    private INotifier? _controlCall;
    private bool _controlEnabled = true;
    private NetControlHandler? _control;
    private NetFeatures _negotiated;
    private bool _featuresSet;
    private bool _hashReport;
    private bool _automaticUsed;
    private NetReceiveMode _receiveMode;
    private volatile int _activePairs = 1;
    private volatile bool _running;
    private volatile bool _needsReset;
    private bool _attached;
    private bool _startedSinceReset;
    private bool _disposed;

    /// <summary>Creates a device; nothing runs until <see cref="Start"/>.</summary>
    /// <param name="options">The options; <see cref="NetDeviceOptions.Backend"/> is required.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or its backend is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count, size or MTU is out of range.</exception>
    public NetDevice(NetDeviceOptions options)
    {
        if (options is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(options));
        }

        if (options.Backend is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(options.Backend));
        }

        if (options.MaxQueuePairs < 1 || options.MaxQueuePairs > NetControlLimits.MaxQueuePairsLimit)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options.MaxQueuePairs));
        }

        if (options.BatchSize < 1 || options.BatchSize > 4096)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options.BatchSize));
        }

        if (options.Mtu < 68 || options.Mtu > 65535)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options.Mtu));
        }

        if (options.Backend.QueueCount < 1)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options.Backend), "The backend must have at least one queue.");
        }

        _options = options;
        Backend = options.Backend;
        MaxQueuePairs = options.MaxQueuePairs;
        BatchSize = options.BatchSize;
        _limits = options.ControlLimits ?? new NetControlLimits
        {
            Mac = options.Mac,
            MaxQueuePairs = options.MaxQueuePairs,
            SupportedHashTypes = NetHashTypes.IPv4 | NetHashTypes.TcpV4 | NetHashTypes.UdpV4 | NetHashTypes.IPv6 | NetHashTypes.TcpV6 | NetHashTypes.UdpV6,
        };

        OfferedFeatures = NetFeatureNegotiation.RestrictToBackend(options.OfferedFeatures, Backend.Offloads | options.SoftwareOffloads);
        Config = new NetConfigSpace
        {
            Status = NetLinkStatus.LinkUp,
            MaxVirtqueuePairs = (ushort)options.MaxQueuePairs,
            Mtu = (ushort)options.Mtu,
            RssMaxKeySize = (byte)_limits.RssMaxKeySize,
            RssMaxIndirectionTableLength = (ushort)_limits.RssMaxIndirectionTableLength,
            SupportedHashTypes = (uint)_limits.SupportedHashTypes,
        };
        Span<byte> mac = stackalloc byte[MacAddress.Length];
        options.Mac.WriteTo(mac);
        Config.SetMac(mac);

        _automatic = new AutomaticReceiveSteering((ushort)MaxQueuePairs);
        _backendFaults = new Exception?[Backend.QueueCount];
        _pairs = new NetQueuePair[MaxQueuePairs];
        _rx = new ReceiveQueueSlot[MaxQueuePairs];
        for (int p = 0; p < MaxQueuePairs; p++)
        {
            WorkerSignal signal = options.SignalFactory?.Invoke(p) ?? new Doorbell();
            _pairs[p] = new NetQueuePair(this, p, signal, options.WorkerMode);
            _rx[p] = new ReceiveQueueSlot(p);
        }

        // Pairs sharing a backend queue take turns on it (the backend sees one thread per queue).
        if (MaxQueuePairs > Backend.QueueCount)
        {
            _backendGates = new object?[Backend.QueueCount];
            _backendHolder = new int[Backend.QueueCount];
            for (int i = 0; i < _backendGates.Length; i++)
            {
                _backendGates[i] = new object();
                _backendHolder[i] = -1;
            }
        }

        InitializeMetrics();
    }

    /// <summary>
    /// Raised when a queue breaks, on a thread-pool thread after the fault was recorded (never on a
    /// pair's worker or under a lock of the device), so a handler may call <see cref="Stop"/>,
    /// <see cref="Reset"/> or <see cref="Start"/>, or wait for another thread that does. Faults
    /// seen close together may be raised in any order.
    /// </summary>
    public event EventHandler<NetQueueFaultEventArgs>? QueueBroken;

    /// <summary>
    /// Raised once per backend queue that failed for good (<see cref="ReportFault"/>: a TAP deleted, an interface
    /// gone), on a thread-pool thread. The device goes on: frames the guest sends on that queue's pairs are dropped
    /// and counted (<see cref="NetQueueCounters.BackendDropped"/>), the queue is no longer received from.
    /// </summary>
    public event EventHandler<NetBackendFaultEventArgs>? BackendFaulted;

    /// <summary>Gets the device name.</summary>
    public string Name => _options.Name;

    /// <summary>Gets the backend.</summary>
    public INetBackend Backend { get; }

    /// <summary>Gets <c>max_virtqueue_pairs</c>.</summary>
    public int MaxQueuePairs { get; }

    /// <summary>Gets the control queue's index (2 × <see cref="MaxQueuePairs"/>).</summary>
    public int ControlQueueIndex => 2 * MaxQueuePairs;

    /// <summary>Gets the batch size.</summary>
    public int BatchSize { get; }

    /// <summary>Gets the offer (the configured one restricted to the backend's offloads plus what the engine does in software).</summary>
    public NetFeatures OfferedFeatures { get; }

    /// <summary>Gets the negotiated features (<see cref="NetFeatures.None"/> before <see cref="SetDriverFeatures"/>).</summary>
    public NetFeatures NegotiatedFeatures => _negotiated;

    /// <summary>Gets the ring features queues must be built with (from the negotiated set).</summary>
    public VirtqueueFeatures QueueFeatures => NetFeatureNegotiation.ToVirtqueueFeatures(_negotiated);

    /// <summary>Gets the virtio-net header layout of the negotiated set.</summary>
    public NetHeaderLayout Layout { get; private set; } = NetHeaderLayout.Modern;

    /// <summary>Gets the config space (mac, status with <c>LINK_UP</c>, <c>max_virtqueue_pairs</c>, mtu, RSS limits).</summary>
    public NetConfigSpace Config { get; }

    /// <summary>Gets the number of active queue pairs.</summary>
    public int ActivePairs => _activePairs;

    /// <summary>Gets whether the device runs.</summary>
    public bool IsRunning => _running;

    /// <summary>Gets whether a queue broke since the last <see cref="Reset"/> (the transport may set <c>DEVICE_NEEDS_RESET</c>).</summary>
    public bool NeedsReset => _needsReset;

    /// <summary>Gets the control-queue state (receive filter, steering, offloads); null before <see cref="SetDriverFeatures"/>.</summary>
    public NetControlState? ControlState => _control?.State;

    internal NetFeatures Negotiated => _negotiated;

    /// <summary>Gets a queue pair.</summary>
    /// <param name="pair">The pair index.</param>
    /// <returns>The pair.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pair"/> is not below <see cref="MaxQueuePairs"/>.</exception>
    public NetQueuePair GetPair(int pair)
    {
        if ((uint)pair >= (uint)MaxQueuePairs)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(pair));
        }

        return _pairs[pair];
    }

    /// <summary>
    /// Takes the driver's accepted features: validates them against the offer and the spec's
    /// dependency rules and, when valid, uses them (header layout, receive mode, control handler).
    /// </summary>
    /// <param name="accepted">The driver's features.</param>
    /// <returns>Valid, or why not (the transport then does not set <c>FEATURES_OK</c>).</returns>
    /// <exception cref="InvalidOperationException">The device was started since the last <see cref="Reset"/> (running or
    /// stopped: its receive writers and held chains belong to the old features; §3.1.1 changes features only after a reset).</exception>
    public NetFeatureCheck SetDriverFeatures(NetFeatures accepted)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            if (_running || _startedSinceReset)
            {
                ThrowHelper.ThrowInvalidOperation("Features cannot change once the device was started; reset it first.");
            }

            NetFeatureCheck check = NetFeatureNegotiation.Validate(OfferedFeatures, accepted);
            if (!check.IsValid)
            {
                return check;
            }

            _negotiated = accepted;
            _featuresSet = true;
            Layout = NetHeaderLayout.For(accepted);
            _receiveMode = NetReceiveWriter.ModeFor(accepted);
            _hashReport = (accepted & NetFeatures.HashReport) != 0;
            _automaticUsed = (accepted & NetFeatures.Mq) != 0 && MaxQueuePairs > 1;
            _control = new NetControlHandler(accepted, (accepted & (NetFeatures.Mq | NetFeatures.Rss)) != 0 ? _limits : SinglePairLimits());
            _activePairs = 1;
            _automatic.SetActivePairs(1);
            _automatic.Clear();
            return check;
        }
    }

    /// <summary>Binds a virtqueue (when the device is stopped, or for a pair that is not active).</summary>
    /// <param name="index">The virtqueue index.</param>
    /// <param name="queue">The device side of the queue (built with <see cref="QueueFeatures"/>), or null to unbind.</param>
    /// <param name="call">The device-to-driver notifier (interrupt, call eventfd), or null for none.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is past the control queue.</exception>
    /// <exception cref="InvalidOperationException">The queue's pair (or the control queue) is in use.</exception>
    public void SetQueue(int index, IDeviceQueue? queue, INotifier? call)
    {
        CheckIndex(index);
        lock (_gate)
        {
            ThrowIfDisposed();
            if (index == ControlQueueIndex)
            {
                lock (_controlGate)
                {
                    _controlQueue = queue;
                    _controlCall = call;
                }

                return;
            }

            int p = index >> 1;
            if (_running && _pairs[p].IsActive)
            {
                ThrowHelper.ThrowInvalidOperation("The queue pair is active; deactivate it (SetActivePairs) or stop the device first.");
            }

            if ((index & 1) == 1)
            {
                _pairs[p].Bind(queue, call);
            }
            else
            {
                ReceiveQueueSlot slot = _rx[p];
                lock (slot.Gate)
                {
                    slot.Queue = queue;
                    slot.Call = call;
                    slot.Writer = null;
                    slot.Broken = false;
                    slot.Dirty = false;
                }
            }
        }
    }

    /// <summary>Enables or disables one virtqueue (e.g. <c>RING_RESET</c>, vhost-user <c>SET_VRING_ENABLE</c>); held chains stay held.</summary>
    /// <param name="index">The virtqueue index.</param>
    /// <param name="enabled">Whether the queue is used.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is past the control queue.</exception>
    public void SetQueueEnabled(int index, bool enabled)
    {
        CheckIndex(index);
        if (index == ControlQueueIndex)
        {
            lock (_controlGate)
            {
                _controlEnabled = enabled;
            }

            return;
        }

        int p = index >> 1;
        if ((index & 1) == 1)
        {
            _pairs[p].SetTransmitEnabled(enabled);
            _pairs[p].Wake();
            return;
        }

        ReceiveQueueSlot slot = _rx[p];
        bool notify;
        lock (slot.Gate)
        {
            slot.Enabled = enabled;
            notify = enabled ? false : slot.PublishLocked();
            slot.FireWaiters();   // disabled: deliveries answer QueueDown now; enabled: they may go on
        }

        if (notify)
        {
            slot.Call?.Notify();
        }

        if (enabled)
        {
            // A backend that pulls (a TAP read in place) stopped reading while the queue was disabled; the frames it
            // left in the kernel raised their edge-triggered readiness already, so nothing else would wake the pair.
            _pairs[p].Wake();
        }
    }

    /// <summary>
    /// Starts the active pairs (workers, unless <see cref="NetWorkerMode.Manual"/>). Attaches the
    /// backend on the first start. Control commands the driver posted before (kicks while stopped are
    /// not acted on) are processed now.
    /// </summary>
    /// <exception cref="InvalidOperationException">No features were set.</exception>
    public void Start()
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            if (!_featuresSet)
            {
                ThrowHelper.ThrowInvalidOperation("Set the driver features before starting the device.");
            }

            if (_running)
            {
                return;
            }

            if (!_attached)
            {
                _attached = true;
                Backend.Attach(this);
            }

            _running = true;
            _startedSinceReset = true;
            for (int p = 0; p < _activePairs; p++)
            {
                ActivatePair(p);
            }

            AnnounceActiveQueues();
            ProcessControl();
        }
    }

    /// <summary>Stops every pair at a round boundary; queue positions, held chains and counters are kept (a later <see cref="Start"/> resumes).</summary>
    public void Stop()
    {
        lock (_gate)
        {
            if (!_running)
            {
                return;
            }

            _running = false;
            for (int p = 0; p < MaxQueuePairs; p++)
            {
                DeactivatePair(p);
            }
        }
    }

    /// <summary>
    /// The device reset (§2.1): stops, forgets the negotiated features, every bound queue and held
    /// chain (their values go stale with the transport's ring reset), the control state and the
    /// needs-reset flag. Counters are kept.
    /// </summary>
    public void Reset()
    {
        lock (_gate)
        {
            Stop();
            for (int p = 0; p < MaxQueuePairs; p++)
            {
                _pairs[p].ForgetHeld();
                _pairs[p].Bind(null, null);
                ReceiveQueueSlot slot = _rx[p];
                lock (slot.Gate)
                {
                    slot.Writer?.Forget();
                    slot.Writer = null;
                    slot.Queue = null;
                    slot.Call = null;
                    slot.Broken = false;
                    slot.Dirty = false;
                    slot.Enabled = true;
                }
            }

            lock (_controlGate)
            {
                _controlQueue = null;
                _controlCall = null;
                _controlEnabled = true;
                _control = null;
            }

            _negotiated = NetFeatures.None;
            _featuresSet = false;
            _startedSinceReset = false;
            _activePairs = 1;
            _automatic.Clear();
            _needsReset = false;
        }
    }

    /// <summary>
    /// Changes the number of active queue pairs at run time (the dynamic form of <c>VQ_PAIRS_SET</c>;
    /// see the class remarks for what happens to chains in flight).
    /// </summary>
    /// <param name="pairs">1 to <see cref="MaxQueuePairs"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pairs"/> is out of range.</exception>
    public void SetActivePairs(int pairs)
    {
        if (pairs < 1 || pairs > MaxQueuePairs)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(pairs));
        }

        lock (_gate)
        {
            SetActivePairsLocked(pairs);
        }
    }

    /// <summary>
    /// The driver's notification for a virtqueue (an in-process driver calls it; a transport calls it
    /// on an eventfd or doorbell write): wakes the pair's worker; for a receive queue also wakes the
    /// space waiters; for the control queue processes the commands and applies the new state.
    /// </summary>
    /// <param name="index">The virtqueue index.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is past the control queue.</exception>
    public void Kick(int index)
    {
        CheckIndex(index);
        if (index == ControlQueueIndex)
        {
            ProcessControl();
            return;
        }

        int p = index >> 1;
        if ((index & 1) == 0)
        {
            ReceiveQueueSlot slot = _rx[p];
            lock (slot.Gate)
            {
                // Buffers arrived: no more kicks needed until a delivery runs dry again.
                if (slot.Queue is not null && slot.Writer is not null && !slot.Broken)
                {
                    slot.Queue.DisableNotifications();
                }

                slot.FireWaiters();
            }
        }

        _pairs[p].Wake();
    }

    /// <summary>Gets a snapshot of a virtqueue's counters.</summary>
    /// <param name="index">The virtqueue index.</param>
    /// <returns>The counters.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is past the control queue.</exception>
    public NetQueueCounters GetCounters(int index)
    {
        CheckIndex(index);
        return Cells(index).Snapshot();
    }

    /// <inheritdoc/>
    public void Wake(int queue)
    {
        int n = Backend.QueueCount;
        if ((uint)queue >= (uint)n)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queue));
        }

        for (int p = queue; p < MaxQueuePairs; p += n)
        {
            _pairs[p].Wake();
        }
    }

    /// <inheritdoc/>
    /// <remarks>The first report per backend queue counts: <see cref="BackendFaulted"/> is raised once, on the thread
    /// pool; the pairs on the queue are woken so a chain held for it is dropped rather than kept.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is not a backend queue.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="failure"/> is null.</exception>
    public void ReportFault(int queue, Exception failure)
    {
        if ((uint)queue >= (uint)Backend.QueueCount)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queue));
        }

        if (failure is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(failure));
        }

        if (Interlocked.CompareExchange(ref _backendFaults[queue], failure, null) is not null)
        {
            return;
        }

        Wake(queue);
        if (BackendFaulted is not null)
        {
            ThreadPool.UnsafeQueueUserWorkItem(RaiseBackendFault, new PendingBackendFault(this, new NetBackendFaultEventArgs(queue, failure)));
        }
    }

    /// <summary>Gets what a backend queue reported when it failed (<see cref="ReportFault"/>), or null while it works.</summary>
    /// <param name="queue">The backend queue.</param>
    /// <returns>The error, or null.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is not a backend queue.</exception>
    public Exception? GetBackendFault(int queue)
    {
        if ((uint)queue >= (uint)Backend.QueueCount)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queue));
        }

        return Volatile.Read(ref _backendFaults[queue]);
    }

    private static void RaiseBackendFault(object? state)
    {
        var pending = (PendingBackendFault)state!;
        pending.Device.BackendFaulted?.Invoke(pending.Device, pending.Args);
    }

    /// <summary>Stops the device, ends the pairs' worker threads, detaches the backend and disposes the meter.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            Stop();
            for (int p = 0; p < MaxQueuePairs; p++)
            {
                _pairs[p].Shutdown();
            }

            _disposed = true;
            if (_attached)
            {
                Backend.Detach();
            }

            DisposeMetrics();
        }
    }

    internal object? BackendGate(int backendQueue) => _backendGates?[backendQueue];

    /// <summary>Gets the pair holding a busy chain on a shared backend queue, or -1 (under the queue's gate).</summary>
    internal int BackendHolder(int backendQueue) => _backendHolder is null ? -1 : _backendHolder[backendQueue];

    internal NetQueuePair PairAt(int pair) => _pairs[pair];

    /// <summary>Records that <paramref name="pair"/> holds a busy chain on a shared backend queue (under the queue's gate).</summary>
    internal void ClaimBackendQueue(int backendQueue, int pair)
    {
        if (_backendHolder is not null)
        {
            _backendHolder[backendQueue] = pair;
        }
    }

    /// <summary>Clears <paramref name="pair"/>'s claim on a shared backend queue, if it has it, and wakes the other pairs of that queue.</summary>
    internal void ReleaseBackendQueue(int backendQueue, int pair, bool wake)
    {
        if (_backendHolder is null)
        {
            return;
        }

        lock (_backendGates![backendQueue]!)
        {
            if (_backendHolder[backendQueue] != pair)
            {
                return;
            }

            _backendHolder[backendQueue] = -1;
        }

        if (wake)
        {
            for (int p = backendQueue; p < MaxQueuePairs; p += Backend.QueueCount)
            {
                if (p != pair)
                {
                    _pairs[p].Wake();
                }
            }
        }
    }

    /// <summary>Gets whether a backend queue reported a failure (<see cref="ReportFault"/>).</summary>
    internal bool IsBackendFaulted(int backendQueue) => Volatile.Read(ref _backendFaults[backendQueue]) is not null;

    /// <summary>Records a broken queue and raises <see cref="QueueBroken"/> on the thread pool (after the caller's locks are released; see the event).</summary>
    internal void ReportBroken(int index, VirtqueueFault fault)
    {
        _needsReset = true;
        if (QueueBroken is not null)
        {
            ThreadPool.UnsafeQueueUserWorkItem(RaiseBroken, new PendingFault(this, new NetQueueFaultEventArgs(index, fault)));
        }
    }

    private static void RaiseBroken(object? state)
    {
        var pending = (PendingFault)state!;
        pending.Device.QueueBroken?.Invoke(pending.Device, pending.Args);
    }

    internal QueueCounterCells Cells(int index) =>
        index == ControlQueueIndex ? _controlCounters : (index & 1) == 0 ? _rx[index >> 1].Counters : _pairs[index >> 1].TxCounters;

    private NetControlLimits SinglePairLimits() => new()
    {
        Mac = _limits.Mac,
        MaxQueuePairs = 1,
        RssMaxKeySize = _limits.RssMaxKeySize,
        RssMaxIndirectionTableLength = _limits.RssMaxIndirectionTableLength,
        SupportedHashTypes = _limits.SupportedHashTypes,
        MaxMacTableEntries = _limits.MaxMacTableEntries,
    };

    private void ActivatePair(int p)
    {
        ReceiveQueueSlot slot = _rx[p];
        lock (slot.Gate)
        {
            if (slot.Writer is null && slot.Queue is not null)
            {
                // A small-buffer guest's limit is the MTU plus the link header, a VLAN tag included
                // (a full-MTU tagged frame is 1518 bytes).
                int maxFrame = (_negotiated & NetFeatures.Mtu) != 0 && _receiveMode == NetReceiveMode.SmallBuffers ? _options.Mtu + ReceiveLinkHeaderBytes : 0;
                slot.Writer = new NetReceiveWriter(slot.Queue, Layout, _receiveMode, Math.Max(maxFrame, 0));
            }

            slot.Active = true;
        }

        _pairs[p].Activate(_options.Name);
    }

    private void DeactivatePair(int p)
    {
        _pairs[p].Deactivate();
        ReceiveQueueSlot slot = _rx[p];
        bool notify;
        lock (slot.Gate)
        {
            slot.Active = false;
            notify = slot.PublishLocked();
            slot.FireWaiters();
        }

        if (notify)
        {
            slot.Call?.Notify();
        }
    }

    /// <summary>
    /// Changes the active pair count (under the lifecycle lock). Growing starts the new pairs before
    /// steering may choose them; shrinking steers away first, then stops the pairs (a delivery that
    /// still lands on a stopped pair is re-steered, see <see cref="Deliver"/>).
    /// </summary>
    private void SetActivePairsLocked(int pairs)
    {
        int old = _activePairs;
        if (old == pairs)
        {
            return;
        }

        if (!_running)
        {
            _activePairs = pairs;
            _automatic.SetActivePairs((ushort)pairs);
            return;   // Start announces
        }

        if (pairs > old)
        {
            for (int p = old; p < pairs; p++)
            {
                ActivatePair(p);
            }

            _activePairs = pairs;
            _automatic.SetActivePairs((ushort)pairs);
            AnnounceActiveQueues();
            return;
        }

        _activePairs = pairs;
        _automatic.SetActivePairs((ushort)pairs);
        for (int p = pairs; p < old; p++)
        {
            DeactivatePair(p);
        }

        AnnounceActiveQueues();
    }

    /// <summary>Tells a queue-aware backend how many of its queues the active pairs use (under the lifecycle lock).</summary>
    private void AnnounceActiveQueues()
    {
        if (Backend is INetBackendQueueAware aware)
        {
            aware.SetActiveQueues(Math.Min(_activePairs, Backend.QueueCount));
        }
    }

    /// <summary>
    /// Handles the control queue's available commands. Serialised with every lifecycle change (the
    /// lifecycle lock, then the control lock: the order used everywhere). A command that sets the
    /// pair count (<c>VQ_PAIRS_SET</c>, <c>RSS_CONFIG</c>) is applied before its ack is pushed, so a
    /// driver that sees the ack sees the new pairs; other commands leave the count alone (a host
    /// <see cref="SetActivePairs"/> stands until the guest next sets it).
    /// </summary>
    private void ProcessControl()
    {
        bool notify = false;
        INotifier? call;
        lock (_gate)
        {
            lock (_controlGate)
            {
                IDeviceQueue? q = _controlQueue;
                NetControlHandler? handler = _control;
                call = _controlCall;
                if (q is null || handler is null || !_controlEnabled || !_running || q.IsBroken)
                {
                    return;
                }

                // At most the ring size per kick, so a hostile driver cannot keep this thread here.
                int handled = 0;
                while (handled < q.Size && q.TryPopAvailable(out DescriptorChain chain) == PopStatus.Popped)
                {
                    int before = handler.State.ActiveQueuePairs;
                    ControlResult r = handler.Handle(chain);
                    int pairs = PairsFor(handler.State, r, before);
                    if (pairs > 0)
                    {
                        SetActivePairsLocked(pairs);
                    }

                    q.PushUsed(chain, r.WrittenLength);
                    handled++;
                }

                _controlCounters.Packets += handled;
                if (handled > 0)
                {
                    q.PublishUsed();
                    notify = q.ShouldNotifyDriver();
                }

                if (q.IsBroken)
                {
                    _controlCounters.BrokenQueue++;
                    ReportBroken(ControlQueueIndex, q.Fault);
                }
            }
        }

        if (notify)
        {
            call?.Notify();
        }
    }

    /// <summary>
    /// The pair count a handled command asks for, or 0 for none. <c>RSS_CONFIG</c>: <c>max_tx_vq</c>,
    /// raised to cover every receive queue the indirection table and the unclassified queue name (the
    /// device uses the table as configured, §5.1.6.5.7; an entry is below <c>max_virtqueue_pairs</c>,
    /// the handler checks that). Entries only fold onto fewer pairs when the host lowered the count
    /// with <see cref="SetActivePairs"/> afterwards.
    /// </summary>
    private int PairsFor(NetControlState state, in ControlResult r, int before)
    {
        int pairs = state.ActiveQueuePairs;
        bool sets = r.Ack == ControlAck.Ok && (r.Command == NetControlCommandId.MqQueuePairsSet || r.Command == NetControlCommandId.MqRssConfig);
        if (!sets && pairs == before)
        {
            return 0;
        }

        if (r.Command == NetControlCommandId.MqRssConfig && state.Rss is { } rss)
        {
            pairs = Math.Max(pairs, rss.UnclassifiedQueue + 1);
            for (int i = 0; i < rss.IndirectionTable.Count; i++)
            {
                pairs = Math.Max(pairs, rss.IndirectionTable[i] + 1);
            }
        }

        return pairs >= 1 && pairs <= MaxQueuePairs ? pairs : 0;
    }

    private void CheckIndex(int index)
    {
        if ((uint)index > (uint)ControlQueueIndex)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(index));
        }
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            ThrowHelper.ThrowObjectDisposed(nameof(NetDevice));
        }
    }

    private sealed class PendingFault(NetDevice device, NetQueueFaultEventArgs args)
    {
        public NetDevice Device { get; } = device;

        public NetQueueFaultEventArgs Args { get; } = args;
    }

    private sealed class PendingBackendFault(NetDevice device, NetBackendFaultEventArgs args)
    {
        public NetDevice Device { get; } = device;

        public NetBackendFaultEventArgs Args { get; } = args;
    }
}
