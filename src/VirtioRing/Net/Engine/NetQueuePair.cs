using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Offload;
using VirtioRing.Queues;

namespace VirtioRing.Net.Engine;

/// <summary>
/// One queue pair of a <see cref="NetDevice"/>: its transmit queue (drained into the backend queue
/// <c>p % QueueCount</c>) and the backend's receive side of that queue. In
/// <see cref="NetWorkerMode.Manual"/> the caller drives it with <see cref="Poll"/> (and sleeps with
/// <see cref="PrepareToWait"/> and <see cref="EndWait"/> around a wait on <see cref="Signal"/>); otherwise the
/// pair's worker thread does.
/// </summary>
/// <remarks>
/// <para>Transmit, per round of at most the batch size: pop a chain (or take the held one first),
/// read and validate its header, hand the frame to the backend (completing the checksum or
/// segmenting in software when the backend lacks that offload), push it used with 0 bytes; then
/// <c>FlushTransmit</c>, publish once, notify once if the suppression rules ask. A bad header is
/// counted and the chain is returned unsent. <see cref="NetTransmitStatus.Busy"/> holds the chain
/// (not pushed), ends the round, and the same chain is offered first next time: order is kept.</para>
/// <para>Disabling the pair (fewer active pairs, or its transmit queue disabled) stops it at a
/// round boundary: a held chain and everything still in the ring stay where they are and are
/// resumed, in order, when the pair is enabled again.</para>
/// <para><b>Shared backend queues</b> (more pairs than backend queues): the pairs on one backend
/// queue take turns under one lock, a round each, so the backend sees one caller per queue. While
/// one of them holds a chain the backend answered busy for, the others do not transmit on that
/// queue (a backend such as the switch keeps retry state per queue for the held frame); they are
/// woken when the chain goes. If the holder leaves the active set, the next sharing pair finishes
/// its held chain for it first, so the queue never stalls on an inactive pair.</para>
/// <para><b>Workers</b>: a pair's worker thread is created on its first activation and parked
/// (blocked on its signal) while the pair is inactive, so changes of the pair count
/// (<c>VQ_PAIRS_SET</c> from the guest) create no threads: at most one per pair for the device's
/// lifetime. <see cref="NetDevice.Dispose"/> ends them.</para>
/// </remarks>
[DebuggerDisplay("Pair {Index} (active = {IsActive}, held = {HasHeldChain})")]
public sealed partial class NetQueuePair
{
    private readonly NetDevice _device;
    private readonly WorkerSignal _signal;
    private readonly QueueCounterCells _txCounters = new();
    private IDeviceQueue? _tx;
    private INotifier? _txCall;
    private bool _txEnabled = true;
    private bool _txBroken;
    private DescriptorChain _held;
    private bool _hasHeld;
    private int _heldSegmentsSent;
    private bool _blockedOnBackend;
    private byte[]? _gather;
    private byte[]? _segment;
    private readonly NetWorkerMode _mode;
    private Thread? _worker;
    private volatile bool _exit;
    private volatile bool _active;
    private int _polling;           // 1 while a round runs (the re-entry guard and the deactivation handshake)
    private int _pollingThread;     // the managed thread id of that round

    internal NetQueuePair(NetDevice device, int index, WorkerSignal signal, NetWorkerMode mode)
    {
        _device = device;
        Index = index;
        _signal = signal;
        _mode = mode;
        BackendQueue = index % device.Backend.QueueCount;
    }

    /// <summary>Gets the pair index (receiveq = 2 * index, transmitq = 2 * index + 1).</summary>
    public int Index { get; }

    /// <summary>Gets the backend queue the pair is bound to.</summary>
    public int BackendQueue { get; }

    /// <summary>Gets whether the pair is active (the device runs and the pair is below the active pair count).</summary>
    public bool IsActive => _active;

    /// <summary>Gets whether a transmit chain is held because the backend answered busy.</summary>
    public bool HasHeldChain => _hasHeld;

    /// <summary>Gets the worker's signal (kicks of the pair's queues and backend wake-ups notify it).</summary>
    public WorkerSignal Signal => _signal;

    internal QueueCounterCells TxCounters => _txCounters;

    internal IDeviceQueue? TransmitQueue => _tx;

    /// <summary>Gets the worker thread (null in <see cref="NetWorkerMode.Manual"/> or before the first start).</summary>
    internal Thread? Worker => _worker;

    /// <summary>
    /// Runs one round: drains up to <paramref name="budget"/> transmit chains into the backend, then
    /// lets the backend deliver up to <paramref name="budget"/> received frames, publishing and
    /// notifying once for each direction. Call from one thread at a time (the pair's worker, or the
    /// caller in <see cref="NetWorkerMode.Manual"/>).
    /// </summary>
    /// <param name="budget">The most chains and frames to move in each direction (1 or more).</param>
    /// <returns>The number of transmit chains completed plus frames received; 0 when there was nothing to do.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="budget"/> is below 1.</exception>
    /// <exception cref="InvalidOperationException">The device has worker threads (<see cref="NetWorkerMode.Blocking"/>,
    /// <see cref="NetWorkerMode.BusyPoll"/>) and this is not the pair's worker, or a round of this pair is already running
    /// (another thread, or re-entry from a backend callback).</exception>
    public int Poll(int budget)
    {
        if (budget < 1)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(budget));
        }

        if (_mode != NetWorkerMode.Manual && !ReferenceEquals(Thread.CurrentThread, _worker))
        {
            ThrowHelper.ThrowInvalidOperation("The pair is driven by its worker thread; Poll is for NetWorkerMode.Manual.");
        }

        // Full fence (Interlocked): pairs with Deactivate's store of _active then load of _polling.
        if (Interlocked.CompareExchange(ref _polling, 1, 0) != 0)
        {
            ThrowHelper.ThrowInvalidOperation("A round of this pair is already running; Poll must be called from one thread at a time and not re-entered.");
        }

        Volatile.Write(ref _pollingThread, Environment.CurrentManagedThreadId);
        try
        {
            return _active ? Round(budget) : 0;
        }
        finally
        {
            Volatile.Write(ref _pollingThread, 0);
            Volatile.Write(ref _polling, 0);
        }
    }

    private int Round(int budget)
    {
        int work = 0;
        object? backendGate = _device.BackendGate(BackendQueue);
        if (backendGate is null)
        {
            work += DrainTransmit(budget, heldOnly: false);
            work += ReceiveFromBackend(budget);
        }
        else
        {
            lock (backendGate)
            {
                work += DrainShared(budget);
                work += ReceiveFromBackend(budget);
            }
        }

        _device.FlushDeliveries();
        return work;
    }

    /// <summary>Lets the backend deliver, unless its queue failed for good (<see cref="NetDevice.ReportFault"/>).</summary>
    private int ReceiveFromBackend(int budget) =>
        _device.IsBackendFaulted(BackendQueue) ? 0 : _device.Backend.Receive(BackendQueue, budget);

    /// <summary>Transmit on a backend queue shared with other pairs (under its gate): wait while another active pair holds a busy chain on it.</summary>
    private int DrainShared(int budget)
    {
        int work = 0;
        int holder = _device.BackendHolder(BackendQueue);
        if (holder >= 0 && holder != Index)
        {
            NetQueuePair other = _device.PairAt(holder);
            if (other.IsActive)
            {
                _blockedOnBackend = true;   // its turn; released with a wake-up of this pair
                return 0;
            }

            // The holder left the active set with its chain held: send that chain for it first, so the
            // backend sees the retry it expects and this queue does not stall on an inactive pair.
            work += other.DrainTransmit(1, heldOnly: true);
            if (_device.BackendHolder(BackendQueue) >= 0)
            {
                _blockedOnBackend = true;
                return work;
            }
        }

        return work + DrainTransmit(budget, heldOnly: false);
    }

    /// <summary>
    /// Before a caller that polls the pair (<see cref="NetWorkerMode.Manual"/>) blocks on <see cref="Signal"/>: asks the
    /// driver to kick the transmit queue again and looks at the ring once more (enable-and-recheck, virtio 1.2 §2.7.10 and
    /// §2.8.10 — what a <see cref="NetWorkerMode.Blocking"/> worker does before it sleeps). Call it after
    /// <see cref="Poll"/> returned 0; when it returns <see langword="false"/> every source of work of the pair wakes
    /// <see cref="Signal"/> (a kick, a backend wake-up, an activation), so the caller may block; after waking, call
    /// <see cref="EndWait"/> before polling again.
    /// </summary>
    /// <returns>
    /// <see langword="true"/> when chains arrived meanwhile (poll again instead of blocking). <see langword="false"/>
    /// also when nothing needs arming: the pair is inactive or has no usable transmit queue, or it waits for the
    /// backend (which wakes <see cref="Signal"/> when it can take the held chain).
    /// </returns>
    /// <exception cref="InvalidOperationException">The device has worker threads and this is not the pair's worker.</exception>
    /// <remarks>Like <see cref="Poll"/>, it does not touch the ring once a stop or a rebind has deactivated the pair
    /// (a session end, after which the ring may be unmapped). Call from the thread that polls the pair.</remarks>
    public bool PrepareToWait()
    {
        RequireDrivingThread();
        IDeviceQueue? tx = _tx;
        return !_blockedOnBackend && tx is not null && _txEnabled && !_txBroken && TouchTransmit(tx, enable: true);
    }

    /// <summary>
    /// After a wait that followed <see cref="PrepareToWait"/>: turns the transmit queue's kick requests off again, since
    /// the caller now polls the ring (a kick per burst would only cost the driver an eventfd write). Harmless when
    /// nothing was armed.
    /// </summary>
    /// <exception cref="InvalidOperationException">The device has worker threads and this is not the pair's worker.</exception>
    public void EndWait()
    {
        RequireDrivingThread();
        IDeviceQueue? tx = _tx;
        if (tx is not null && !_txBroken)
        {
            TouchTransmit(tx, enable: false);
        }
    }

    private void RequireDrivingThread()
    {
        if (_mode != NetWorkerMode.Manual && !ReferenceEquals(Thread.CurrentThread, _worker))
        {
            ThrowHelper.ThrowInvalidOperation("The pair is driven by its worker thread; this is for NetWorkerMode.Manual.");
        }
    }

    internal void Bind(IDeviceQueue? queue, INotifier? call)
    {
        AbandonHeldInBackend();
        ReleaseClaim(wake: true);
        _tx = queue;
        _txCall = call;
        _txBroken = false;
        _hasHeld = false;
        _heldSegmentsSent = 0;
        _held = default;
    }

    internal void SetTransmitEnabled(bool enabled) => _txEnabled = enabled;

    internal void Wake() => _signal.Notify();

    /// <summary>
    /// Tells a backend that remembers Busy frames (the switch) that the held frame will not be
    /// offered again. Called where the held chain is forgotten: while no worker drives the pair.
    /// </summary>
    private void AbandonHeldInBackend()
    {
        if (_hasHeld && _device.Backend is INetBackendHoldAware aware)
        {
            aware.AbandonHeld(BackendQueue);
        }
    }

    /// <summary>Forgets a held chain (after the queue was reset: it is stale).</summary>
    internal void ForgetHeld()
    {
        AbandonHeldInBackend();
        ReleaseClaim(wake: true);
        _hasHeld = false;
        _heldSegmentsSent = 0;
        _held = default;
        _txBroken = false;
        _blockedOnBackend = false;
    }

    /// <summary>
    /// Marks the pair active and wakes its worker, creating it on the first activation (or after
    /// <see cref="Shutdown"/>: a worker that was told to exit but not joined is joined first, so a
    /// pair never has two). Under the device's lifecycle lock.
    /// </summary>
    internal void Activate(string name)
    {
        if (_active)
        {
            return;
        }

        if (_exit)
        {
            Thread? old = _worker;
            if (old is not null && !ReferenceEquals(old, Thread.CurrentThread))
            {
                old.Join();
            }

            _worker = null;
            _exit = false;
        }

        _active = true;
        if (_mode != NetWorkerMode.Manual && _worker is null)
        {
            var t = new Thread(_mode == NetWorkerMode.BusyPoll ? BusyLoop : BlockingLoop)
            {
                IsBackground = true,
                Name = name + " pair " + Index,
            };
            _worker = t;
            t.Start();
        }

        _signal.Notify();
    }

    /// <summary>
    /// Stops the pair at a round boundary: after this returns no round of the pair runs (unless it
    /// is called from inside that round). The worker parks. Under the device's lifecycle lock.
    /// </summary>
    internal void Deactivate()
    {
        if (!_active)
        {
            return;
        }

        _active = false;
        Interlocked.MemoryBarrier();   // store _active, then load _polling (Poll does the mirror image)
        _signal.Notify();
        if (Volatile.Read(ref _pollingThread) == Environment.CurrentManagedThreadId)
        {
            return;   // called from inside this pair's round (a backend callback): it ends when the caller returns
        }

        var spin = new SpinWait();
        while (Volatile.Read(ref _polling) != 0)
        {
            spin.SpinOnce();
        }
    }

    /// <summary>Ends the worker (device disposal): deactivates, tells it to exit and joins it unless called from it.</summary>
    internal void Shutdown()
    {
        Deactivate();
        _exit = true;
        _signal.Notify();
        Thread? t = _worker;
        if (t is not null && !ReferenceEquals(t, Thread.CurrentThread))
        {
            t.Join();
            _worker = null;
        }
    }

    private void BlockingLoop()
    {
        int batch = _device.BatchSize;
        while (!_exit)
        {
            if (!_active)
            {
                _signal.Wait(-1);   // parked until activated again (or shut down)
                continue;
            }

            if (Poll(batch) > 0)
            {
                continue;
            }

            // Enable-and-recheck (§2.7.10, §2.8.10): ask for a kick, then look again; sleep only when
            // the ring is still empty. Not while the backend holds us back (its Wake resumes us).
            if (PrepareToWait())
            {
                continue;
            }

            _signal.Wait(-1);
            EndWait();
        }
    }

    /// <summary>
    /// Turns the transmit queue's kick requests on (then reports whether chains arrived meanwhile) or off (then reports
    /// whether the queue was touched), under the
    /// same guard as <see cref="Poll"/>: once <see cref="Deactivate"/> has returned (Stop, SetQueue, Reset — after which
    /// a VMM may unmap the ring), the worker does not touch the ring again.
    /// </summary>
    private bool TouchTransmit(IDeviceQueue tx, bool enable)
    {
        if (Interlocked.CompareExchange(ref _polling, 1, 0) != 0)
        {
            return false;
        }

        try
        {
            if (!_active || !ReferenceEquals(tx, _tx))
            {
                return false;
            }

            if (enable)
            {
                return tx.EnableNotifications();
            }

            tx.DisableNotifications();
            return true;
        }
        finally
        {
            Volatile.Write(ref _polling, 0);
        }
    }

    private void BusyLoop()
    {
        int batch = _device.BatchSize;
        int idle = 0;
        IDeviceQueue? quiet = null;   // the transmit queue whose kick requests this loop turned off
        while (!_exit)
        {
            if (!_active)
            {
                quiet = null;       // whatever is bound on activation (the same queue object reset, too) asks for kicks again
                _signal.Wait(-1);   // parked
                continue;
            }

            // A polled ring needs no kicks: turn them off once per bound queue (a queue is set up asking for them, and
            // without EVENT_IDX the driver would write the kick eventfd after every burst). A rebind brings a new queue.
            IDeviceQueue? tx = _tx;
            if (tx is not null && !ReferenceEquals(tx, quiet) && !_txBroken && TouchTransmit(tx, enable: false))
            {
                quiet = tx;
            }

            if (Poll(batch) > 0)
            {
                idle = 0;
                continue;
            }

            if (++idle > 64)
            {
                Thread.Yield();
                idle = 0;
            }
        }
    }

    /// <summary>Drains the transmit queue; with <paramref name="heldOnly"/> only the held chain (another pair of the backend queue finishing it for this inactive one).</summary>
    private int DrainTransmit(int budget, bool heldOnly)
    {
        IDeviceQueue? tx = _tx;
        if (tx is null || _txBroken)
        {
            ReleaseClaim(wake: true);   // a chain that can never be retried must not block the backend queue
            return 0;
        }

        if (!_txEnabled)
        {
            return 0;
        }

        int done = 0;
        int pushed = 0;
        bool touched = false;
        _blockedOnBackend = false;

        // Fixed while a round runs (set at negotiation / construction): read once per batch, not per frame.
        INetBackend backend = _device.Backend;
        NetOffloads carried = backend.Offloads;
        NetHeaderLayout layout = _device.Layout;
        NetFeatures negotiated = _device.Negotiated;
        bool backendDown = _device.IsBackendFaulted(BackendQueue);   // dropped and counted: the guest's ring keeps moving
        while (done < budget)
        {
            DescriptorChain chain;
            if (_hasHeld)
            {
                chain = _held;
            }
            else if (heldOnly)
            {
                break;
            }
            else
            {
                PopStatus s = tx.TryPopAvailable(out chain);
                if (s == PopStatus.Empty)
                {
                    break;
                }

                if (s == PopStatus.Broken)
                {
                    _txBroken = true;
                    _txCounters.BrokenQueue++;
                    _device.ReportBroken(2 * Index + 1, tx.Fault);
                    break;
                }
            }

            NetHeaderError e = VirtioNetHeader.ReadTransmit(chain, layout, negotiated, out VirtioNetHeader header, out int length);
            NetTransmitStatus status;
            if (e != NetHeaderError.None || length > NetDevice.MaxTransmitFrameBytes)
            {
                // A frame longer than any IP packet plus its link header (two VLAN tags) is no frame:
                // it is not handed on (a backend or a peer guest would have to cope with up to 2^31 bytes).
                _txCounters.BadHeader++;
                status = NetTransmitStatus.Dropped;
            }
            else
            {
                // Only NEEDS_CSUM means something on transmit (§5.1.6.2); DATA_VALID and RSC_INFO are
                // receive-side flags a peer guest must not be able to forge.
                header.Flags &= NetHeaderFlags.NeedsChecksum;
                touched = !backendDown;
                status = backendDown ? NetTransmitStatus.Dropped : Transmit(backend, carried, chain, header, length);
                if (status == NetTransmitStatus.Busy)
                {
                    _held = chain;
                    _hasHeld = true;
                    _blockedOnBackend = true;
                    _txCounters.Busy++;
                    _device.ClaimBackendQueue(BackendQueue, Index);
                    break;
                }

                if (status == NetTransmitStatus.Sent)
                {
                    _txCounters.Packets++;
                    _txCounters.Bytes += length;
                }
                else
                {
                    _txCounters.BackendDropped++;
                }
            }

            if (_hasHeld)
            {
                ReleaseClaim(wake: true);
            }

            _hasHeld = false;
            _heldSegmentsSent = 0;
            _held = default;
            tx.PushUsed(chain, 0);
            pushed++;
            done++;
        }

        if (touched)
        {
            backend.FlushTransmit(BackendQueue);
        }

        if (pushed > 0)
        {
            tx.PublishUsed();
            if (tx.ShouldNotifyDriver())
            {
                _txCall?.Notify();
            }
        }

        return done;
    }

    /// <summary>Gives up this pair's claim on a shared backend queue (its held chain went) and wakes the pairs waiting for it.</summary>
    private void ReleaseClaim(bool wake)
    {
        _device.ReleaseBackendQueue(BackendQueue, Index, wake);
    }

    private NetTransmitStatus Transmit(INetBackend backend, NetOffloads carried, in DescriptorChain chain, in VirtioNetHeader header, int length)
    {
        uint offset = (uint)_device.Layout.Size;
        if (_device.AutomaticSteeringUsed)
        {
            _device.RecordTransmit(chain, offset, length, Index);
        }

        NetGsoType gso = header.GsoType;
        if (gso != NetGsoType.None)
        {
            if (NetDevice.Carries(carried, gso, IsIPv6(chain, offset, length)))
            {
                return backend.Transmit(BackendQueue, NetFrame.FromChain(header, chain, offset, length));
            }

            return Segment(chain, header, offset, length);
        }

        if ((header.Flags & NetHeaderFlags.NeedsChecksum) != 0 && (carried & NetOffloads.Checksum) == 0)
        {
            if (length > NetDevice.MaxFrameBytes)
            {
                return NetTransmitStatus.Dropped;
            }

            // A device must not write into driver-readable buffers: complete the checksum in a copy.
            byte[] gather = _gather ??= new byte[NetDevice.MaxFrameBytes];
            Span<byte> frame = gather.AsSpan(0, length);
            chain.CopyFromReadable(offset, frame);
            if (ChecksumOffload.TryCompleteChecksum(frame, header.ChecksumStart, header.ChecksumOffset) != OffloadError.None)
            {
                return NetTransmitStatus.Dropped;
            }

            VirtioNetHeader done = header;
            done.Flags = header.Flags & ~NetHeaderFlags.NeedsChecksum;
            return backend.Transmit(BackendQueue, NetFrame.FromSpan(done, frame));
        }

        return backend.Transmit(BackendQueue, NetFrame.FromChain(header, chain, offset, length));
    }

    private NetTransmitStatus Segment(in DescriptorChain chain, in VirtioNetHeader header, uint offset, int length)
    {
        if (length > NetDevice.MaxFrameBytes)
        {
            return NetTransmitStatus.Dropped;
        }

        byte[] gather = _gather ??= new byte[NetDevice.MaxFrameBytes];
        byte[] segment = _segment ??= new byte[NetDevice.MaxFrameBytes];
        Span<byte> frame = gather.AsSpan(0, length);
        chain.CopyFromReadable(offset, frame);
        var request = SegmentationRequest.FromHeader((byte)header.GsoType, header.GsoSize, header.HeaderLength,
            (_device.Negotiated & NetFeatures.GuestHdrLen) != 0);
        var sink = new TransmitSegmentSink(_device.Backend, BackendQueue, segment, _heldSegmentsSent);
        OffloadError e = SoftwareSegmentation.TrySegment(frame, request, ref sink, out _);
        if (sink.Busy)
        {
            _heldSegmentsSent = sink.Sent;
            return NetTransmitStatus.Busy;
        }

        _heldSegmentsSent = 0;
        return e == OffloadError.None && !sink.Dropped ? NetTransmitStatus.Sent : NetTransmitStatus.Dropped;
    }

    [SkipLocalsInit]
    private static bool IsIPv6(in DescriptorChain chain, uint offset, int length)
    {
        Span<byte> head = stackalloc byte[NetDevice.EtherTypeProbeLength];
        int n = chain.CopyFromReadable(offset, head.Slice(0, Math.Min(head.Length, length)));
        return NetDevice.IsIPv6(head.Slice(0, n));
    }

    /// <summary>Hands each segment to the backend as it is made; resumes after the segments already sent when retried after busy.</summary>
    private struct TransmitSegmentSink : ISegmentSink
    {
        private readonly INetBackend _backend;
        private readonly int _queue;
        private readonly byte[] _buffer;
        private readonly int _skip;

        public TransmitSegmentSink(INetBackend backend, int queue, byte[] buffer, int skip)
        {
            _backend = backend;
            _queue = queue;
            _buffer = buffer;
            _skip = skip;
            Sent = skip;
            Busy = false;
            Dropped = false;
        }

        public int Sent { get; private set; }

        public bool Busy { get; private set; }

        public bool Dropped { get; private set; }

        public readonly Span<byte> GetBuffer(int index, int length) => Busy || length > _buffer.Length ? default : _buffer.AsSpan(0, length);

        public void Complete(int index, int length)
        {
            if (index < _skip)
            {
                return;
            }

            // Segments carry complete checksums: the backend gets them with no offload to do.
            VirtioNetHeader header = default;
            NetTransmitStatus s = _backend.Transmit(_queue, NetFrame.FromSpan(header, _buffer.AsSpan(0, length)));
            if (s == NetTransmitStatus.Busy)
            {
                Busy = true;
                return;
            }

            Dropped |= s == NetTransmitStatus.Dropped;
            Sent = index + 1;
        }
    }
}
