using System;
using System.Diagnostics;
using System.Threading;

namespace VirtioRing.Net.Backends;

/// <summary>
/// An in-memory backend for tests, samples and benchmarks. In <see cref="LoopbackMode.Echo"/> each
/// transmitted frame is copied into a preallocated slot and delivered back on the same backend
/// queue; in <see cref="LoopbackMode.Capture"/> transmitted frames are kept for
/// <see cref="TryTakeTransmitted(int, out VirtioNetHeader, out byte[])"/> and frames to receive are
/// given with <see cref="Inject"/>. Declares the <see cref="Offloads"/> and <see cref="QueueCount"/>
/// it is built with (the header of each frame is kept as is).
/// </summary>
/// <remarks>
/// <para>Bounded: each queue holds at most <c>capacity</c> frames per direction. A full queue answers
/// <see cref="NetTransmitStatus.Busy"/> and wakes the host when room appears (flow control); a frame
/// longer than <c>maxFrameLength</c> is <see cref="NetTransmitStatus.Dropped"/>.</para>
/// <para>Receive: delivers through <see cref="INetBackendHost.Deliver"/>; a frame that finds no
/// receive buffer stays first in line and the backend asks
/// <see cref="INetBackendHost.WaitForReceiveBuffers"/> to wake the queue when buffers come (lossless).
/// Other refusals (filtered, bad frame, queue down) drop the frame and count it.</para>
/// <para>Thread-safe: <see cref="Transmit"/>/<see cref="Receive"/> run on the pair's worker,
/// <see cref="Inject"/> and <see cref="TryTakeTransmitted(int, out VirtioNetHeader, out byte[])"/> on any thread.
/// Allocation-free after the first use of a queue (except the allocating take).</para>
/// </remarks>
[DebuggerDisplay("Loopback {Mode}, {QueueCount} queue(s), offloads {Offloads}")]
public sealed class LoopbackBackend : INetBackend, INetBackendHoldAware
{
    private readonly FrameRing[] _toHost;
    private readonly FrameRing[] _captured;
    private readonly QueueWaiter[] _waiters;
    private INetBackendHost? _host;
    private long _transmitted;
    private long _delivered;
    private long _dropped;
    private long _abandoned;

    /// <summary>Creates a loopback backend.</summary>
    /// <param name="mode">Echo or capture.</param>
    /// <param name="queueCount">The number of backend queues (1 or more).</param>
    /// <param name="offloads">The offloads it declares.</param>
    /// <param name="capacity">Frames held per queue and direction (1 or more).</param>
    /// <param name="maxFrameLength">The longest frame kept (64 or more).</param>
    /// <exception cref="ArgumentOutOfRangeException">A count or length is out of range.</exception>
    public LoopbackBackend(LoopbackMode mode = LoopbackMode.Echo, int queueCount = 1, NetOffloads offloads = NetOffloads.None, int capacity = 128, int maxFrameLength = 16384)
    {
        if (queueCount < 1)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queueCount));
        }

        if (capacity < 1)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(capacity));
        }

        if (maxFrameLength < 64)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(maxFrameLength));
        }

        Mode = mode;
        QueueCount = queueCount;
        Offloads = offloads;
        _toHost = new FrameRing[queueCount];
        _captured = new FrameRing[queueCount];
        _waiters = new QueueWaiter[queueCount];
        for (int i = 0; i < queueCount; i++)
        {
            _toHost[i] = new FrameRing(capacity, maxFrameLength);
            _captured[i] = new FrameRing(capacity, maxFrameLength);
            _waiters[i] = new QueueWaiter(this, i);
        }
    }

    /// <summary>Gets the mode.</summary>
    public LoopbackMode Mode { get; }

    /// <inheritdoc/>
    public NetOffloads Offloads { get; }

    /// <inheritdoc/>
    public int QueueCount { get; }

    /// <summary>Gets the frames taken by <see cref="Transmit"/>.</summary>
    public long TransmittedFrames => Interlocked.Read(ref _transmitted);

    /// <summary>Gets the frames the host accepted.</summary>
    public long DeliveredFrames => Interlocked.Read(ref _delivered);

    /// <summary>Gets the frames the host refused for good (filtered, bad, queue down).</summary>
    public long DroppedFrames => Interlocked.Read(ref _dropped);

    /// <summary>Gets how many times the engine gave up a frame this backend had answered Busy for (<see cref="INetBackendHoldAware.AbandonHeld"/>).</summary>
    public long AbandonedHolds => Interlocked.Read(ref _abandoned);

    /// <summary>Gets the frames waiting to be received on a queue.</summary>
    /// <param name="queue">The backend queue.</param>
    /// <returns>The count.</returns>
    public int PendingReceive(int queue) => _toHost[CheckQueue(queue)].Count;

    /// <summary>Gets the frames captured and not taken on a queue.</summary>
    /// <param name="queue">The backend queue.</param>
    /// <returns>The count.</returns>
    public int PendingTransmitted(int queue) => _captured[CheckQueue(queue)].Count;

    /// <inheritdoc/>
    public void Attach(INetBackendHost host)
    {
        if (host is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(host));
        }

        Volatile.Write(ref _host, host);
    }

    /// <inheritdoc/>
    public void Detach() => Volatile.Write(ref _host, null);

    /// <inheritdoc/>
    public NetTransmitStatus Transmit(int queue, in NetFrame frame)
    {
        FrameRing ring = Mode == LoopbackMode.Echo ? _toHost[CheckQueue(queue)] : _captured[CheckQueue(queue)];
        NetTransmitStatus s = ring.TryAdd(frame, -1);
        if (s == NetTransmitStatus.Sent)
        {
            Interlocked.Increment(ref _transmitted);
            if (Mode == LoopbackMode.Echo)
            {
                Volatile.Read(ref _host)?.Wake(queue);
            }
        }

        return s;
    }

    /// <inheritdoc/>
    public void FlushTransmit(int queue)
    {
    }

    /// <inheritdoc/>
    public int Receive(int queue, int budget)
    {
        INetBackendHost? host = Volatile.Read(ref _host);
        FrameRing ring = _toHost[CheckQueue(queue)];
        if (host is null)
        {
            return 0;
        }

        int done = 0;
        while (done < budget && ring.TryPeek(out VirtioNetHeader header, out int hint, out ReadOnlySpan<byte> bytes))
        {
            NetDeliveryResult r = host.Deliver(Mode == LoopbackMode.Echo ? queue : hint, NetFrame.FromSpan(header, bytes));
            if (r.Status == NetDeliveryStatus.NoBuffers)
            {
                if (host.WaitForReceiveBuffers(r.Queue, _waiters[queue]))
                {
                    continue;   // buffers appeared meanwhile: retry at once
                }

                break;   // the waiter wakes this queue when the guest adds buffers
            }

            if (r.IsDelivered)
            {
                Interlocked.Increment(ref _delivered);
            }
            else
            {
                Interlocked.Increment(ref _dropped);
            }

            if (ring.Remove())
            {
                host.Wake(queue);   // the queue was full: transmit may go on
            }

            done++;
        }

        return done;
    }

    /// <summary>Queues a frame for the host to receive on <paramref name="queue"/> and wakes the queue.</summary>
    /// <param name="queue">The backend queue.</param>
    /// <param name="header">The frame's header (its offload state: <c>NEEDS_CSUM</c>, GSO, <c>DATA_VALID</c>).</param>
    /// <param name="frame">The frame, Ethernet header onwards.</param>
    /// <param name="queueHint">The receive queue to ask the host for, or -1 to let it steer.</param>
    /// <returns><see langword="false"/> when the queue is full or the frame too long.</returns>
    public bool Inject(int queue, in VirtioNetHeader header, ReadOnlySpan<byte> frame, int queueHint = -1)
    {
        NetTransmitStatus s = _toHost[CheckQueue(queue)].TryAdd(NetFrame.FromSpan(header, frame), queueHint);
        if (s != NetTransmitStatus.Sent)
        {
            return false;
        }

        Volatile.Read(ref _host)?.Wake(queue);
        return true;
    }

    /// <summary>Takes the oldest captured frame of a queue (capture mode), copying it into new arrays.</summary>
    /// <param name="queue">The backend queue.</param>
    /// <param name="header">The frame's header as the engine passed it.</param>
    /// <param name="frame">A copy of the frame.</param>
    /// <returns><see langword="false"/> when nothing was captured.</returns>
    public bool TryTakeTransmitted(int queue, out VirtioNetHeader header, out byte[] frame)
    {
        FrameRing ring = _captured[CheckQueue(queue)];
        if (!ring.TryPeek(out header, out _, out ReadOnlySpan<byte> bytes))
        {
            frame = [];
            return false;
        }

        frame = bytes.ToArray();
        if (ring.Remove())
        {
            Volatile.Read(ref _host)?.Wake(queue);
        }

        return true;
    }

    /// <summary>Takes the oldest captured frame of a queue into a caller's buffer (allocation-free).</summary>
    /// <param name="queue">The backend queue.</param>
    /// <param name="header">The frame's header.</param>
    /// <param name="destination">Where to copy the frame (at most its length is copied).</param>
    /// <param name="length">The frame's full length.</param>
    /// <returns><see langword="false"/> when nothing was captured.</returns>
    public bool TryTakeTransmitted(int queue, out VirtioNetHeader header, Span<byte> destination, out int length)
    {
        FrameRing ring = _captured[CheckQueue(queue)];
        if (!ring.TryPeek(out header, out _, out ReadOnlySpan<byte> bytes))
        {
            length = 0;
            return false;
        }

        length = bytes.Length;
        bytes.Slice(0, Math.Min(bytes.Length, destination.Length)).CopyTo(destination);
        if (ring.Remove())
        {
            Volatile.Read(ref _host)?.Wake(queue);
        }

        return true;
    }

    private int CheckQueue(int queue)
    {
        if ((uint)queue >= (uint)QueueCount)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queue));
        }

        return queue;
    }

    /// <summary>Wakes a backend queue when the host has receive buffers again.</summary>
    private sealed class QueueWaiter(LoopbackBackend owner, int queue) : INotifier
    {
        public void Notify() => Volatile.Read(ref owner._host)?.Wake(queue);
    }

    /// <summary>A bounded ring of frames in one preallocated block; one consumer, producers serialised by a lock.</summary>
    private sealed class FrameRing(int capacity, int maxFrameLength)
    {
        private readonly object _gate = new();
        private readonly VirtioNetHeader[] _headers = new VirtioNetHeader[capacity];
        private readonly int[] _lengths = new int[capacity];
        private readonly int[] _hints = new int[capacity];
        private byte[]? _data;
        private int _head;
        private int _count;
        private bool _wasFull;

        public int Count => Volatile.Read(ref _count);

        public NetTransmitStatus TryAdd(in NetFrame frame, int hint)
        {
            if (frame.Length > maxFrameLength)
            {
                return NetTransmitStatus.Dropped;
            }

            lock (_gate)
            {
                if (_count == capacity)
                {
                    _wasFull = true;
                    return NetTransmitStatus.Busy;
                }

                int slot = (_head + _count) % capacity;
                _data ??= new byte[checked(capacity * maxFrameLength)];
                frame.CopyTo(_data.AsSpan(slot * maxFrameLength, maxFrameLength));
                _headers[slot] = frame.Header;
                _lengths[slot] = frame.Length;
                _hints[slot] = hint;
                Volatile.Write(ref _count, _count + 1);
                return NetTransmitStatus.Sent;
            }
        }

        public bool TryPeek(out VirtioNetHeader header, out int hint, out ReadOnlySpan<byte> bytes)
        {
            lock (_gate)
            {
                if (_count == 0)
                {
                    header = default;
                    hint = -1;
                    bytes = default;
                    return false;
                }

                header = _headers[_head];
                hint = _hints[_head];
                bytes = _data.AsSpan(_head * maxFrameLength, _lengths[_head]);
                return true;
            }
        }

        /// <summary>Removes the oldest frame; returns whether a producer was turned away since the last removal (wake it).</summary>
        public bool Remove()
        {
            lock (_gate)
            {
                _head = (_head + 1) % capacity;
                Volatile.Write(ref _count, _count - 1);
                bool wake = _wasFull;
                _wasFull = false;
                return wake;
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>The loopback keeps no state about a Busy frame; it only counts the call.</remarks>
    void INetBackendHoldAware.AbandonHeld(int queue)
    {
        CheckQueue(queue);
        Interlocked.Increment(ref _abandoned);
    }
}
