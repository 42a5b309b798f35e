using System;
using System.Collections.Generic;
using System.Diagnostics;
using VirtioRing.Memory;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Net.Rx;
using VirtioRing.Queues;

namespace VirtioRing.Net.Driver;

/// <summary>
/// An in-process virtio-net driver (the guest side, virtio 1.2 §5.1) over driver queues: negotiates
/// features, keeps its receive queues full, sends frames with a virtio-net header on the transmit
/// queue a <see cref="ITxQueueSelector"/> picks, receives frames spread over <c>num_buffers</c>
/// mergeable buffers (or one big/small buffer), and configures the device through the control queue.
/// </summary>
/// <remarks>
/// <para>Life cycle: construct, <see cref="Negotiate"/> the device's offer, create the queues (e.g.
/// with <see cref="NetDriverRings"/>), <see cref="Bind(IReadOnlyList{IDriverQueue}, IReadOnlyList{INotifier?})"/>
/// them, then send and receive. Queue numbering is virtio's: receiveq(p) = 2p, transmitq(p) = 2p + 1,
/// controlq = 2 × <see cref="QueuePairs"/> (§5.1.2).</para>
/// <para>Buffers: the driver carves every buffer from <see cref="NetDriverOptions.BufferArea"/> at bind
/// time (see <see cref="GetBufferAreaBytes"/>) and never allocates afterwards. A sent frame is copied
/// into the driver's own transmit buffers (as a kernel copies into an skb), so the caller's span is
/// free when the call returns; completed transmit buffers are reclaimed lazily, when a send runs short.</para>
/// <para>The device is not trusted: used lengths are checked by the driver queues, <c>num_buffers</c>
/// and frame lengths here; a device that breaks the rules faults the queue it broke
/// (<see cref="NetDriverStatus.Faulted"/>, <see cref="GetFault"/>) and never makes the driver throw or hang.</para>
/// <para>Control commands (§5.1.6.5) are synchronous from the caller's view: the command is added to
/// the control queue, the device is kicked, and the call waits for the used buffer — spinning briefly,
/// then yielding the thread — at most <see cref="NetDriverOptions.ControlTimeout"/>. The device answers
/// asynchronously (its own worker, or inline from the kick's notifier). No answer in time, or a control
/// queue the device broke, is a <see cref="NetDriverException"/>; after a timeout the control queue stays
/// faulted (the command may still be in the device's hands, so its buffer cannot be reused).</para>
/// <para>Threading: each queue is driven by one thread at a time (a pair's transmit and receive queues
/// may be driven by two threads); control commands by one thread at a time. <see cref="TrySend(ReadOnlySpan{byte}, in VirtioNetHeader)"/>
/// picks the queue itself, so concurrent senders should use the per-pair form instead.</para>
/// </remarks>
[DebuggerDisplay("pairs={QueuePairs} active={ActivePairs} features={NegotiatedFeatures}")]
public sealed unsafe partial class NetDriver
{
    private const int BufferAlignment = 64;
    private readonly NetDriverOptions _options;
    private readonly ITxQueueSelector _selector;
    private NetDriverReceiveQueue[] _rx = [];
    private NetDriverTransmitQueue[] _tx = [];
    private NetDriverQueueState?[] _all = [];
    private bool _negotiated;
    private int _activePairs = 1;

    /// <summary>Creates a driver; nothing happens until <see cref="Negotiate"/> and <c>Bind</c>.</summary>
    /// <param name="options">The memory, buffer area and policies.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size or count in the options is out of range.</exception>
    public NetDriver(NetDriverOptions options)
    {
        if (options is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(options));
        }

        if (options.QueuePairs is < 1 or > 0x8000)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options), "QueuePairs is 1 to 0x8000.");
        }

        if (options.MergeableBufferSize < NetHeaderLayout.HashReportSize || options.TxBufferSize < 64 || options.Mtu < 68 ||
            options.RxBuffersPerQueue < 0 || options.TxBuffersPerQueue < 0 || options.ControlBufferSize < 64 ||
            options.ControlTimeout < TimeSpan.Zero)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options), "A buffer size, count or timeout is out of range.");
        }

        _options = options;
        _selector = options.TxQueueSelector ?? new FlowHashTxQueueSelector();
    }

    /// <summary>Gets the options.</summary>
    public NetDriverOptions Options => _options;

    /// <summary>Gets the accepted features (after <see cref="Negotiate"/>).</summary>
    public NetFeatures NegotiatedFeatures { get; private set; }

    /// <summary>Gets the virtio-net header layout of the accepted features.</summary>
    public NetHeaderLayout HeaderLayout { get; private set; }

    /// <summary>Gets how receive buffers are used (§5.1.6.3.1): mergeable, big or small.</summary>
    public NetReceiveMode ReceiveMode { get; private set; }

    /// <summary>Gets the bytes of each receive buffer (header included).</summary>
    public int ReceiveBufferSize { get; private set; }

    /// <summary>Gets the number of bound queue pairs.</summary>
    public int QueuePairs => _options.QueuePairs;

    /// <summary>Gets the number of pairs in use: 1 until <see cref="SetQueuePairs"/> succeeds (§5.1.6.5.6); the transmit selector spreads over these.</summary>
    public int ActivePairs => _activePairs;

    /// <summary>Gets whether queues are bound.</summary>
    public bool IsBound => _rx.Length != 0;

    /// <summary>
    /// Accepts features from the device's offer: the offer ∩ <see cref="NetDriverOptions.WantedFeatures"/>,
    /// minus every feature whose dependency is missing (§5.1.3.1), and fixes the header layout and
    /// receive mode from them. Call before binding.
    /// </summary>
    /// <param name="offered">The device's features.</param>
    /// <returns>The accepted set: write it back to the device (its <c>SetDriverFeatures</c>, <c>FEATURES_OK</c>).</returns>
    /// <exception cref="InvalidOperationException">Queues are already bound.</exception>
    public NetFeatures Negotiate(NetFeatures offered)
    {
        if (IsBound)
        {
            ThrowHelper.ThrowInvalidOperation("Features are negotiated before the queues are bound.");
        }

        NetFeatures accepted = NetFeatureNegotiation.Accept(offered, _options.WantedFeatures);
        if ((accepted & NetFeatures.Mq) == 0 && _options.QueuePairs > 1)
        {
            ThrowHelper.ThrowInvalidOperation("Several queue pairs need VIRTIO_NET_F_MQ, which the device did not offer.");
        }

        NegotiatedFeatures = accepted;
        HeaderLayout = NetHeaderLayout.For(accepted);
        ReceiveMode = NetReceiveWriter.ModeFor(accepted);
        ReceiveBufferSize = ReceiveMode switch
        {
            NetReceiveMode.Mergeable => Math.Max(_options.MergeableBufferSize, HeaderLayout.Size),

            // §5.1.6.3.1: at least 65562 bytes with receive GSO, else 1526; we size for the longest
            // GSO frame the device side delivers (14 + 40 + 65535) and for the MTU.
            NetReceiveMode.BigBuffers => HeaderLayout.Size + NetReceiveWriter.LargeFrameLength,
            _ => HeaderLayout.Size + Math.Max(_options.Mtu + 14, NetReceiveWriter.SmallFrameLength),
        };
        _negotiated = true;
        return accepted;
    }

    /// <summary>Gets the buffer-area bytes the driver needs with queues of <paramref name="queueSize"/> (after <see cref="Negotiate"/>).</summary>
    /// <param name="queueSize">The size of every receive and transmit queue.</param>
    /// <returns>The bytes.</returns>
    /// <exception cref="InvalidOperationException">Features were not negotiated yet.</exception>
    public ulong GetBufferAreaBytes(int queueSize)
    {
        RequireNegotiated();
        ulong perPair = ((ulong)RxCount(queueSize) * Align(ReceiveBufferSize)) + ((ulong)TxCount(queueSize) * Align(_options.TxBufferSize));
        ulong control = (NegotiatedFeatures & NetFeatures.CtrlVq) != 0 ? Align(_options.ControlBufferSize) + BufferAlignment : 0;
        return (perPair * (ulong)_options.QueuePairs) + control;
    }

    /// <summary>Binds the driver to the rings laid out by <see cref="NetDriverRings"/>.</summary>
    /// <param name="rings">The rings (pairs and control queue as negotiated).</param>
    /// <param name="kicks">One notifier per queue, in virtio order (null entries: that queue is never kicked — a polling device).</param>
    /// <exception cref="ArgumentNullException"><paramref name="rings"/> is null.</exception>
    /// <exception cref="ArgumentException">See the other overload.</exception>
    /// <exception cref="InvalidOperationException">See the other overload.</exception>
    public void Bind(NetDriverRings rings, IReadOnlyList<INotifier?>? kicks = null)
    {
        if (rings is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(rings));
        }

        Bind(rings.DriverQueues, kicks);
    }

    /// <summary>
    /// Attaches the driver queues (created outside, over rings the device also knows) and fills every
    /// receive queue with buffers. Kicks go to <paramref name="kicks"/>[i] for queue i, only when the
    /// queue's <see cref="IDriverQueue.ShouldNotifyDevice"/> says so.
    /// </summary>
    /// <param name="queues">2 × <see cref="QueuePairs"/> queues, plus the control queue last when <c>CTRL_VQ</c> was negotiated.</param>
    /// <param name="kicks">One notifier per queue, or null for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="queues"/> or one of them is null.</exception>
    /// <exception cref="ArgumentException">The queue or notifier count is wrong, or the buffer area is too small or not mapped.</exception>
    /// <exception cref="InvalidOperationException">Features were not negotiated, or queues are already bound.</exception>
    public void Bind(IReadOnlyList<IDriverQueue> queues, IReadOnlyList<INotifier?>? kicks = null)
    {
        RequireNegotiated();
        if (queues is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(queues));
        }

        if (IsBound)
        {
            ThrowHelper.ThrowInvalidOperation("The driver is already bound.");
        }

        int pairs = _options.QueuePairs;
        bool control = (NegotiatedFeatures & NetFeatures.CtrlVq) != 0;
        int count = (2 * pairs) + (control ? 1 : 0);
        if (queues.Count != count)
        {
            ThrowHelper.ThrowArgument(nameof(queues), "Expected 2 × QueuePairs queues, plus the control queue when CTRL_VQ was negotiated.");
        }

        if (kicks is not null && kicks.Count != count)
        {
            ThrowHelper.ThrowArgument(nameof(kicks), "Expected one notifier (or null) per queue.");
        }

        for (int i = 0; i < count; i++)
        {
            if (queues[i] is null)
            {
                ThrowHelper.ThrowArgumentNull(nameof(queues));
            }
        }

        var rx = new NetDriverReceiveQueue[pairs];
        var tx = new NetDriverTransmitQueue[pairs];
        var all = new NetDriverQueueState?[count];
        ulong next = _options.BufferArea.Value;
        ulong end = next + _options.BufferAreaLength;
        if (!_options.BufferArea.IsAligned(BufferAlignment) || end < next)
        {
            ThrowHelper.ThrowArgument(nameof(queues), "The buffer area must be 64-byte aligned and must not wrap.");
        }

        for (int p = 0; p < pairs; p++)
        {
            IDriverQueue rq = queues[2 * p];
            IDriverQueue tq = queues[(2 * p) + 1];
            int rxCount = RxCount(rq.Size);
            int rxSize = (int)Align(ReceiveBufferSize);
            byte* rxHost = Carve(ref next, end, (ulong)rxCount * (ulong)rxSize, out ulong rxGuest);
            rx[p] = new NetDriverReceiveQueue(2 * p, rq, kicks?[2 * p], rxHost, rxGuest, rxSize, rxCount);
            int txCount = TxCount(tq.Size);
            int txSize = (int)Align(_options.TxBufferSize);
            byte* txHost = Carve(ref next, end, (ulong)txCount * (ulong)txSize, out ulong txGuest);
            tx[p] = new NetDriverTransmitQueue((2 * p) + 1, tq, kicks?[(2 * p) + 1], txHost, txGuest, txSize, txCount);
            all[2 * p] = rx[p];
            all[(2 * p) + 1] = tx[p];
        }

        if (control)
        {
            int index = 2 * pairs;
            int size = (int)Align(_options.ControlBufferSize) + BufferAlignment;   // command, then the response
            byte* host = Carve(ref next, end, (ulong)size, out ulong guest);
            _control = new NetDriverControlQueue(index, queues[index], kicks?[index], host, guest, size, (int)Align(_options.ControlBufferSize));
            all[index] = _control;
        }

        _rx = rx;
        _tx = tx;
        _all = all;
        _activePairs = 1;
        for (int p = 0; p < pairs; p++)
        {
            Refill(rx[p]);
        }
    }

    /// <summary>Gets the fault of queue <paramref name="queueIndex"/> (virtio numbering), or <see cref="NetDriverFault.None"/>.</summary>
    /// <param name="queueIndex">The queue index.</param>
    /// <returns>The fault.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queueIndex"/> is not a bound queue.</exception>
    public NetDriverFault GetFault(int queueIndex)
    {
        NetDriverQueueState q = GetQueue(queueIndex);
        q.CheckBroken();
        return q.Fault;
    }

    /// <summary>Gets a snapshot of the counters of queue <paramref name="queueIndex"/> (virtio numbering).</summary>
    /// <param name="queueIndex">The queue index.</param>
    /// <returns>The counters.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queueIndex"/> is not a bound queue.</exception>
    public NetDriverQueueCounters GetCounters(int queueIndex) => GetQueue(queueIndex).Counters;

    /// <summary>Gets the driver queue of index <paramref name="queueIndex"/> (virtio numbering).</summary>
    /// <param name="queueIndex">The queue index.</param>
    /// <returns>The queue.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queueIndex"/> is not a bound queue.</exception>
    public IDriverQueue GetDriverQueue(int queueIndex) => GetQueue(queueIndex).Queue;

    /// <summary>
    /// Asks the device to interrupt (call) on the queue's next used buffer, then re-checks (§2.7.10,
    /// §2.8.21): a guest application that waits on its own doorbell calls this, and waits only when it
    /// returns <see langword="false"/>.
    /// </summary>
    /// <param name="queueIndex">The queue index (virtio numbering).</param>
    /// <returns><see langword="true"/> when used buffers are already waiting: process them instead of sleeping.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queueIndex"/> is not a bound queue.</exception>
    public bool EnableUsedNotifications(int queueIndex)
    {
        NetDriverQueueState q = GetQueue(queueIndex);
        return q.Queue.IsBroken || q.Queue.EnableUsedNotifications();
    }

    /// <summary>Asks the device not to interrupt on the queue's used buffers (polling).</summary>
    /// <param name="queueIndex">The queue index (virtio numbering).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queueIndex"/> is not a bound queue.</exception>
    public void DisableUsedNotifications(int queueIndex)
    {
        NetDriverQueueState q = GetQueue(queueIndex);
        if (!q.Queue.IsBroken)
        {
            q.Queue.DisableUsedNotifications();
        }
    }

    private NetDriverQueueState GetQueue(int queueIndex)
    {
        NetDriverQueueState?[] all = _all;
        if ((uint)queueIndex >= (uint)all.Length || all[queueIndex] is not { } q)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queueIndex), "Not a bound queue.");
            return null!;
        }

        return q;
    }

    private void RequireNegotiated()
    {
        if (!_negotiated)
        {
            ThrowHelper.ThrowInvalidOperation("Negotiate features first.");
        }
    }

    private void RequireBound()
    {
        if (!IsBound)
        {
            ThrowHelper.ThrowInvalidOperation("Bind the queues first.");
        }
    }

    private int RxCount(int queueSize) => _options.RxBuffersPerQueue == 0 ? queueSize : Math.Min(_options.RxBuffersPerQueue, queueSize);

    private int TxCount(int queueSize) => _options.TxBuffersPerQueue == 0 ? queueSize : _options.TxBuffersPerQueue;

    private static ulong Align(int bytes) => ((ulong)bytes + BufferAlignment - 1) & ~(ulong)(BufferAlignment - 1);

    private byte* Carve(ref ulong next, ulong end, ulong bytes, out ulong guest)
    {
        if (bytes > end - next)
        {
            ThrowHelper.ThrowArgument("options", "The buffer area is too small (see GetBufferAreaBytes).");
        }

        guest = next;
        GuestMemoryStatus s = _options.Memory.TryTranslate(next, bytes, out byte* host);
        if (s != GuestMemoryStatus.Ok)
        {
            ThrowHelper.ThrowArgument("options", "The buffer area is not mapped in one region of the guest memory.");
        }

        next += bytes;
        return host;
    }
}
