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
/// <see cref="NetWorkerMode.Manual"/> the caller drives it with <see cref="Poll"/>; otherwise the
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
    private Thread? _worker;
    private volatile bool _stopRequested;
    private volatile bool _active;

    internal NetQueuePair(NetDevice device, int index, WorkerSignal signal)
    {
        _device = device;
        Index = index;
        _signal = signal;
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

    /// <summary>
    /// Runs one round: drains up to <paramref name="budget"/> transmit chains into the backend, then
    /// lets the backend deliver up to <paramref name="budget"/> received frames, publishing and
    /// notifying once for each direction. Call from one thread at a time (the pair's worker, or the
    /// caller in <see cref="NetWorkerMode.Manual"/>).
    /// </summary>
    /// <param name="budget">The most chains and frames to move in each direction (1 or more).</param>
    /// <returns>The number of transmit chains completed plus frames received; 0 when there was nothing to do.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="budget"/> is below 1.</exception>
    public int Poll(int budget)
    {
        if (budget < 1)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(budget));
        }

        if (!_active)
        {
            return 0;
        }

        int work = 0;
        object? backendGate = _device.BackendGate(BackendQueue);
        if (backendGate is null)
        {
            work += DrainTransmit(budget);
            work += _device.Backend.Receive(BackendQueue, budget);
        }
        else
        {
            lock (backendGate)
            {
                work += DrainTransmit(budget);
                work += _device.Backend.Receive(BackendQueue, budget);
            }
        }

        _device.FlushDeliveries();
        return work;
    }

    internal void Bind(IDeviceQueue? queue, INotifier? call)
    {
        _tx = queue;
        _txCall = call;
        _txBroken = false;
        _hasHeld = false;
        _heldSegmentsSent = 0;
        _held = default;
    }

    internal void SetTransmitEnabled(bool enabled) => _txEnabled = enabled;

    internal void Wake() => _signal.Notify();

    /// <summary>Forgets a held chain (after the queue was reset: it is stale).</summary>
    internal void ForgetHeld()
    {
        _hasHeld = false;
        _heldSegmentsSent = 0;
        _held = default;
        _txBroken = false;
        _blockedOnBackend = false;
    }

    /// <summary>Marks the pair active and starts its worker when the mode has one. Under the device's lifecycle lock.</summary>
    internal void Activate(NetWorkerMode mode, string name)
    {
        if (_active)
        {
            return;
        }

        _stopRequested = false;
        _active = true;
        if (mode != NetWorkerMode.Manual)
        {
            var t = new Thread(mode == NetWorkerMode.BusyPoll ? BusyLoop : BlockingLoop)
            {
                IsBackground = true,
                Name = name + " pair " + Index,
            };
            _worker = t;
            t.Start();
        }
    }

    /// <summary>
    /// Stops the pair at a round boundary and waits for its worker to leave (unless called from the
    /// worker itself). Under the device's lifecycle lock.
    /// </summary>
    internal void Deactivate()
    {
        if (!_active)
        {
            return;
        }

        _stopRequested = true;
        _active = false;
        _signal.Notify();
        Thread? t = _worker;
        _worker = null;
        if (t is not null && t != Thread.CurrentThread)
        {
            t.Join();
        }
    }

    private void BlockingLoop()
    {
        int batch = _device.BatchSize;
        while (!_stopRequested)
        {
            if (Poll(batch) > 0)
            {
                continue;
            }

            // Enable-and-recheck (§2.7.10, §2.8.10): ask for a kick, then look again; sleep only when
            // the ring is still empty. Not while the backend holds us back (its Wake resumes us).
            IDeviceQueue? tx = _tx;
            if (!_blockedOnBackend && tx is not null && _txEnabled && !_txBroken && tx.EnableNotifications())
            {
                continue;
            }

            _signal.Wait(-1);
            if (tx is not null && !_txBroken)
            {
                tx.DisableNotifications();
            }
        }
    }

    private void BusyLoop()
    {
        int batch = _device.BatchSize;
        int idle = 0;
        while (!_stopRequested)
        {
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

    private int DrainTransmit(int budget)
    {
        IDeviceQueue? tx = _tx;
        if (tx is null || !_txEnabled || _txBroken)
        {
            return 0;
        }

        int done = 0;
        int pushed = 0;
        bool touched = false;
        _blockedOnBackend = false;
        while (done < budget)
        {
            DescriptorChain chain;
            if (_hasHeld)
            {
                chain = _held;
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

            NetHeaderError e = VirtioNetHeader.ReadTransmit(chain, _device.Layout, _device.Negotiated, out VirtioNetHeader header, out int length);
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
                touched = true;
                status = Transmit(chain, header, length);
                if (status == NetTransmitStatus.Busy)
                {
                    _held = chain;
                    _hasHeld = true;
                    _blockedOnBackend = true;
                    _txCounters.Busy++;
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

            _hasHeld = false;
            _heldSegmentsSent = 0;
            _held = default;
            tx.PushUsed(chain, 0);
            pushed++;
            done++;
        }

        if (touched)
        {
            _device.Backend.FlushTransmit(BackendQueue);
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

    private NetTransmitStatus Transmit(in DescriptorChain chain, in VirtioNetHeader header, int length)
    {
        uint offset = (uint)_device.Layout.Size;
        _device.RecordTransmit(chain, offset, length, Index);
        NetOffloads carried = _device.Backend.Offloads;
        NetGsoType gso = header.GsoType;
        INetBackend backend = _device.Backend;
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
