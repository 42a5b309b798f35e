using System;
using System.Diagnostics;
using System.Threading;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Net;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Packet;

/// <summary>
/// A virtio-net backend attached directly to a network interface (an SR-IOV VF, a physical port, a veth end) through
/// <c>AF_PACKET</c> sockets: one per backend queue, joined in a <c>PACKET_FANOUT_HASH</c> group so each queue gets
/// whole flows; <c>PACKET_VNET_HDR</c> so offloads (checksum, TSO, USO) pass in both directions as virtio-net headers;
/// a <c>TPACKET_V3</c> mmap'd receive ring per socket; the interface in promiscuous mode.
/// </summary>
/// <remarks>
/// <para><b>Transmit</b>: one <c>sendmsg</c> per frame, its iovec the virtio-net header (from a per-queue buffer) and
/// then the guest's own buffers: no copy in user space. <c>EAGAIN</c>/<c>ENOBUFS</c> answer
/// <see cref="NetTransmitStatus.Busy"/> and the queue is woken when the socket has room (or a millisecond later for a
/// full device queue); <c>EMSGSIZE</c>/<c>EINVAL</c> drop the frame (counted).</para>
/// <para><b>Receive</b>: the ring's frames are handed to the host where they lie
/// (<see cref="INetBackendHost.Deliver"/>, whose copy into the guest's buffers is the only copy in user space); a frame
/// the guest has no buffer for stays in the ring until it has (lossless with respect to the ring; the kernel drops
/// when the ring is full, see <see cref="PacketQueueCounters.KernelDrops"/>). A block goes back to the kernel when all
/// its frames are delivered. A VLAN tag the kernel took off a frame is put back (the frame is then rebuilt in a
/// per-queue buffer).</para>
/// <para><b>Readiness</b>: one background thread per backend sleeps in <c>epoll_wait</c> on the sockets and wakes a
/// queue through <see cref="INetBackendHost.Wake"/>; nothing spins while idle.</para>
/// <para><b>The host's firewall does not see this traffic</b> (a packet socket sends below the IP stack and taps
/// received frames before it): <see cref="PacketSocketOptions.Filter"/> is the place to filter it.</para>
/// <para><b>Faults</b>: when the interface is deleted (or leaves the network namespace) each queue reports it once
/// through <see cref="INetBackendHost.ReportFault"/> with a <see cref="LinuxException"/>, drops what the guest still
/// sends, and stops receiving; nothing throws from <see cref="Transmit"/> or <see cref="Receive"/>. A link that only
/// goes down drops transmitted frames (<see cref="PacketQueueCounters.TransmitLinkDown"/>) until it is up again.</para>
/// <para>Create the backend on a thread inside the interface's network namespace (the sockets and the name lookup
/// belong to it; they keep working from any thread afterwards). Needs <c>CAP_NET_RAW</c>. Dispose it after the
/// device that uses it: disposing stops the readiness thread, unmaps the rings and closes the sockets (which drops
/// the promiscuous membership). Steady state allocates nothing.</para>
/// </remarks>
[DebuggerDisplay("packet sockets on {InterfaceName} (index {InterfaceIndex}), {QueueCount} queue(s)")]
public sealed partial class PacketSocketBackend : INetBackend, INetBackendQueueAware, IDisposable
{
    private readonly PacketQueue[] _queues;
    private readonly PacketReadiness _readiness;
    private readonly IPacketSocketFilter? _filter;
    private INetBackendHost? _host;
    private int _activeQueues;
    private int _disposed;

    /// <summary>Opens the queue sockets on an interface, maps their receive rings, joins them into a fanout group and starts the readiness thread.</summary>
    /// <param name="options">The interface and how to attach to it.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or its interface name is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (see <see cref="PacketSocketOptions"/>).</exception>
    /// <exception cref="LinuxException">The interface does not exist in this thread's namespace (<c>if_nametoindex</c>: <c>ENODEV</c>), or a socket call failed (<c>socket</c>: <c>EPERM</c> without <c>CAP_NET_RAW</c>; <c>setsockopt PACKET_RX_RING</c>: <c>ENOMEM</c>; <c>PACKET_FANOUT</c>: <c>EINVAL</c> when a fixed group id is taken by a group of another mode).</exception>
    public PacketSocketBackend(PacketSocketOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(options);
        uint index = PacketLibC.if_nametoindex(options.Interface);
        if (index == 0)
        {
            LinuxThrowHelper.ThrowErrno("if_nametoindex", $"interface \"{options.Interface}\" (in this thread's network namespace)");
        }

        InterfaceName = options.Interface;
        InterfaceIndex = (int)index;
        Offloads = options.Offloads & PacketSocketOptions.DefaultOffloads;
        _filter = options.Filter;
        _queues = new PacketQueue[options.Queues];
        _activeQueues = options.Queues;
        bool joinFanout = options.Queues > 1 || options.FanoutGroupId.HasValue;
        int fanoutId = options.FanoutGroupId ?? -1;
        try
        {
            for (int i = 0; i < _queues.Length; i++)
            {
                _queues[i] = PacketQueue.Open(i, InterfaceIndex, options, ref fanoutId, joinFanout, promiscuous: options.Promiscuous && i == 0);
                _queues[i].Waiter = new QueueWaker(this, i);
            }

            FanoutGroupId = joinFanout ? (ushort)fanoutId : null;
            _readiness = new PacketReadiness(this, _queues, "packet " + InterfaceName);
        }
        catch
        {
            foreach (PacketQueue? q in _queues)
            {
                q?.Dispose();
            }

            throw;
        }
    }

    /// <summary>Gets the interface name.</summary>
    public string InterfaceName { get; }

    /// <summary>Gets the interface index the sockets are bound to.</summary>
    public int InterfaceIndex { get; }

    /// <summary>Gets the fanout group id the queue sockets share (chosen by the kernel unless <see cref="PacketSocketOptions.FanoutGroupId"/> was set), or <see langword="null"/> when a single queue joined no group.</summary>
    public ushort? FanoutGroupId { get; }

    /// <inheritdoc/>
    public NetOffloads Offloads { get; }

    /// <inheritdoc/>
    public int QueueCount => _queues.Length;

    /// <summary>Gets the readiness thread (tests check that it ends).</summary>
    internal Thread ReadinessThread => _readiness.Thread;

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="host"/> is null.</exception>
    public void Attach(INetBackendHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        Volatile.Write(ref _host, host);
    }

    /// <inheritdoc/>
    public void Detach() => Volatile.Write(ref _host, null);

    /// <inheritdoc/>
    /// <remarks>Nothing is batched: each <see cref="Transmit"/> sends at once (the frame's memory is only valid during the call).</remarks>
    public void FlushTransmit(int queue)
    {
    }

    /// <summary>Gets a snapshot of a queue's counters (reads the kernel's ring drop count, which the kernel resets on each read, and adds it up).</summary>
    /// <param name="queue">The backend queue.</param>
    /// <returns>The counters.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is not below <see cref="QueueCount"/>.</exception>
    public PacketQueueCounters GetCounters(int queue)
    {
        PacketQueue q = QueueAt(queue);
        return new PacketQueueCounters
        {
            ReceivedFrames = Volatile.Read(ref q.ReceivedFrames),
            ReceivedBytes = Volatile.Read(ref q.ReceivedBytes),
            ReceiveFiltered = Volatile.Read(ref q.ReceiveFiltered),
            ReceiveHostFiltered = Volatile.Read(ref q.ReceiveHostFiltered),
            ReceiveBadFrame = Volatile.Read(ref q.ReceiveBadFrame),
            ReceiveQueueDown = Volatile.Read(ref q.ReceiveQueueDown),
            ReceiveTruncated = Volatile.Read(ref q.ReceiveTruncated),
            ReceiveMalformed = Volatile.Read(ref q.ReceiveMalformed),
            ReceiveNoBuffers = Volatile.Read(ref q.ReceiveNoBuffers),
            KernelDrops = q.ReadKernelDrops(),
            TransmittedFrames = Volatile.Read(ref q.TransmittedFrames),
            TransmittedBytes = Volatile.Read(ref q.TransmittedBytes),
            TransmitBusy = Volatile.Read(ref q.TransmitBusy),
            TransmitFiltered = Volatile.Read(ref q.TransmitFiltered),
            TransmitTooLong = Volatile.Read(ref q.TransmitTooLong),
            TransmitInvalid = Volatile.Read(ref q.TransmitInvalid),
            TransmitLinkDown = Volatile.Read(ref q.TransmitLinkDown),
            TransmitFaulted = Volatile.Read(ref q.TransmitFaulted),
            TransmitErrors = Volatile.Read(ref q.TransmitErrors),
            IsFaulted = q.Fault is not null,
        };
    }

    /// <summary>Stops and joins the readiness thread, unmaps the receive rings and closes the sockets. Call it after the device that uses the backend was disposed.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _host, null);
        _readiness.Dispose();
        foreach (PacketQueue q in _queues)
        {
            q.Dispose();
        }
    }

    /// <summary>Wakes the queue that reads ring <paramref name="ring"/> through the host (the readiness thread, receive-buffer waiters): the ring's own queue, or the active queue it folds onto.</summary>
    internal void WakeQueue(int ring)
    {
        int active = Volatile.Read(ref _activeQueues);
        Volatile.Read(ref _host)?.Wake(ring < active ? ring : ring % active);
    }

    private PacketQueue QueueAt(int queue)
    {
        if ((uint)queue >= (uint)_queues.Length)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(queue), $"The backend has {_queues.Length} queue(s).");
        }

        return _queues[queue];
    }

    private static void Validate(PacketSocketOptions o)
    {
        ArgumentNullException.ThrowIfNull(o.Interface, nameof(PacketSocketOptions.Interface));
        if (o.Interface.Length is 0 or > 15 || o.Interface.Contains('\0', StringComparison.Ordinal))
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(PacketSocketOptions.Interface), "An interface name is 1 to 15 characters (IFNAMSIZ).");
        }

        if (o.Queues is < 1 or > 64)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(PacketSocketOptions.Queues), "Queues must be 1..64.");
        }

        int page = Environment.SystemPageSize;
        if (o.BlockSize < page || o.BlockSize > (1 << 30) || (o.BlockSize & (o.BlockSize - 1)) != 0)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(PacketSocketOptions.BlockSize), $"BlockSize must be a power of two from the page size ({page}) to 1 GiB.");
        }

        if (o.BlockCount < 2 || (long)o.BlockCount * o.BlockSize > int.MaxValue)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(PacketSocketOptions.BlockCount), "BlockCount must be 2 or more, and the ring below 2 GiB.");
        }

        // The kernel wants frames of at least TPACKET3_HDRLEN (68) bytes, aligned to 16, dividing the block.
        if (o.FrameSize < 80 || o.FrameSize % PacketLibC.TPACKET_ALIGNMENT != 0 || o.FrameSize > o.BlockSize || o.BlockSize % o.FrameSize != 0)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(PacketSocketOptions.FrameSize), "FrameSize must be a multiple of 16, at least 80, dividing BlockSize.");
        }

        if (o.BlockTimeoutMilliseconds is < 1 or > 60_000)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(PacketSocketOptions.BlockTimeoutMilliseconds), "BlockTimeoutMilliseconds must be 1..60000.");
        }
    }

    /// <summary>Wakes one queue when the host has receive buffers again.</summary>
    private sealed class QueueWaker(PacketSocketBackend owner, int queue) : INotifier
    {
        public void Notify() => owner.WakeQueue(queue);
    }
}
