using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Net;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Packet;

/// <summary>
/// One queue of a <see cref="PacketSocketBackend"/>: its <c>AF_PACKET</c> socket, the socket's mapped
/// <c>TPACKET_V3</c> receive ring and where reading has got to, the native buffers a send uses (virtio-net header,
/// iovec array), its counters and its fault state.
/// </summary>
/// <remarks>
/// Threads: the ring position, the send buffers and the counters belong to the thread that drives the queue (the
/// engine calls <c>Transmit</c>/<c>Receive</c> for one queue from one thread at a time); the readiness thread only
/// touches the interest fields under <see cref="InterestGate"/> and the fault (interlocked). Counters are written by
/// that one thread and read by any (64-bit loads do not tear).
/// </remarks>
[DebuggerDisplay("queue {Index}, fd {Socket}, block {_block}")]
internal sealed unsafe partial class PacketQueue : IDisposable
{
    /// <summary>Most iovecs per send: the header and this many frame pieces (a longer gather list is copied into one buffer first).</summary>
    public const int MaxFramePieces = 64;

    private byte* _ring;
    private nuint _ringBytes;
    private byte* _native;      // [0, 16): the virtio-net header of a send; [16, ...): the iovec array
    private Exception? _fault;
    private int _faultReported;

    private PacketQueue(int index, SafeFileDescriptor socket)
    {
        Index = index;
        Socket = socket;
    }

    /// <summary>Gets the backend queue index.</summary>
    public int Index { get; }

    /// <summary>Gets the packet socket.</summary>
    public SafeFileDescriptor Socket { get; }

    /// <summary>Gets the notifier given to <see cref="INetBackendHost.WaitForReceiveBuffers"/> (wakes this queue).</summary>
    public INotifier? Waiter { get; set; }

    /// <summary>Gets the lock held while a thread reads the receive ring (one reader at a time, also across a change of the active queues).</summary>
    public object ReceiveGate { get; } = new();

    /// <summary>Gets the lock over <see cref="WantWritable"/> and <see cref="RetryAtTicks"/> (readiness interest).</summary>
    public object InterestGate { get; } = new();

    /// <summary>Gets or sets whether the readiness thread watches <c>EPOLLOUT</c> for a send that answered <c>EAGAIN</c>.</summary>
    public bool WantWritable { get; set; }

    /// <summary>Gets or sets when (<see cref="Environment.TickCount64"/>) to wake the queue for a send that answered <c>ENOBUFS</c>; 0 for never.</summary>
    public long RetryAtTicks { get; set; }

    /// <summary>Gets or sets when to look again whether the socket was unbound after its link went down; 0 for never.</summary>
    public long RecheckAtTicks { get; set; }

    /// <summary>Gets or sets how many of those looks were taken.</summary>
    public int RecheckStep { get; set; }

    /// <summary>Gets the failure that stopped the queue for good, or <see langword="null"/>.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    /// <summary>Gets the virtio-net header buffer of a send (10 bytes of native memory).</summary>
    public byte* SendHeader => _native;

    /// <summary>Gets the iovec array of a send (<see cref="MaxFramePieces"/> + 1 entries of native memory).</summary>
    public iovec* SendVector => (iovec*)(_native + 16);

    /// <summary>Gets or sets the private copy of a transmitted frame (a filter is installed, or the gather list is too long); grown rarely.</summary>
    public byte[]? SendCopy { get; set; }

    /// <summary>Gets or sets the buffer a received frame is rebuilt in when the kernel took its VLAN tag off; grown rarely.</summary>
    public byte[]? ReceiveCopy { get; set; }

    // Counters: written by the queue's thread only.
    public long ReceivedFrames;
    public long ReceivedBytes;
    public long ReceiveFiltered;
    public long ReceiveHostFiltered;
    public long ReceiveBadFrame;
    public long ReceiveQueueDown;
    public long ReceiveTruncated;
    public long ReceiveMalformed;
    public long ReceiveNoBuffers;
    public long TransmittedFrames;
    public long TransmittedBytes;
    public long TransmitBusy;
    public long TransmitFiltered;
    public long TransmitTooLong;
    public long TransmitInvalid;
    public long TransmitLinkDown;
    public long TransmitFaulted;
    public long TransmitErrors;

    // Accumulated PACKET_STATISTICS drops (the kernel resets its counters on each read); under InterestGate.
    private long _kernelDrops;

    /// <summary>
    /// Opens and configures the socket of one queue, in this order: a socket with protocol 0 (it receives nothing
    /// yet); <c>TPACKET_V3</c>, <c>PACKET_VNET_HDR</c> (only allowed before the ring), <c>PACKET_IGNORE_OUTGOING</c>,
    /// optionally <c>PACKET_QDISC_BYPASS</c>; the receive ring, mapped; a drop-everything classic BPF filter; bind to
    /// the interface with <c>ETH_P_ALL</c>; the fanout group; the filter removed. Between the bind and the fanout join
    /// the socket would get a copy of every frame (the same frames another queue's socket gets through the group):
    /// the drop filter keeps that window empty.
    /// </summary>
    public static PacketQueue Open(int index, int ifindex, PacketSocketOptions options, ref int fanoutId, bool joinFanout, bool promiscuous)
    {
        int raw = LibC.socket(LibC.AF_PACKET, LibC.SOCK_RAW | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0);
        if (raw < 0)
        {
            LinuxThrowHelper.ThrowErrno("socket", "AF_PACKET, SOCK_RAW (needs CAP_NET_RAW)");
        }

        var q = new PacketQueue(index, new SafeFileDescriptor(raw, ownsHandle: true));
        try
        {
            q.Configure(ifindex, options, ref fanoutId, joinFanout, promiscuous);
            return q;
        }
        catch
        {
            q.Dispose();
            throw;
        }
    }

    private void Configure(int ifindex, PacketSocketOptions options, ref int fanoutId, bool joinFanout, bool promiscuous)
    {
        using var fd = new FdRef(Socket);
        SetInt(fd.Value, LibC.SOL_PACKET, LibC.PACKET_VERSION, PacketLibC.TPACKET_V3, "PACKET_VERSION");
        SetInt(fd.Value, LibC.SOL_PACKET, LibC.PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
        SetInt(fd.Value, LibC.SOL_PACKET, LibC.PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");
        if (options.BypassQdisc)
        {
            SetInt(fd.Value, LibC.SOL_PACKET, LibC.PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
        }

        var req = new tpacket_req3
        {
            tp_block_size = (uint)options.BlockSize,
            tp_block_nr = (uint)options.BlockCount,
            tp_frame_size = (uint)options.FrameSize,
            tp_frame_nr = (uint)(options.BlockSize / options.FrameSize * options.BlockCount),
            tp_retire_blk_tov = (uint)options.BlockTimeoutMilliseconds,
        };
        if (LibC.setsockopt(fd.Value, LibC.SOL_PACKET, LibC.PACKET_RX_RING, &req, (uint)sizeof(tpacket_req3)) < 0)
        {
            LinuxThrowHelper.ThrowErrno("setsockopt", $"PACKET_RX_RING ({options.BlockCount} blocks of {options.BlockSize} bytes)");
        }

        _ringBytes = (nuint)options.BlockSize * (nuint)options.BlockCount;
        void* map = LibC.mmap(null, (size_t)_ringBytes, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd.Value, 0);
        if (map == LibC.MAP_FAILED)
        {
            LinuxThrowHelper.ThrowErrno("mmap", $"the receive ring ({_ringBytes} bytes)");
        }

        _ring = (byte*)map;
        _blockSize = options.BlockSize;
        _blockCount = options.BlockCount;
        _native = (byte*)NativeMemory.AllocZeroed((nuint)(16 + (MaxFramePieces + 1) * sizeof(iovec)));

        // A drop-everything filter until the socket is in its fanout group (see Open).
        sock_filter drop = new() { code = PacketLibC.BPF_RET_K, k = 0 };
        var prog = new sock_fprog { len = 1, filter = &drop };
        if (LibC.setsockopt(fd.Value, LibC.SOL_SOCKET, LibC.SO_ATTACH_FILTER, &prog, (uint)sizeof(sock_fprog)) < 0)
        {
            LinuxThrowHelper.ThrowErrno("setsockopt", "SO_ATTACH_FILTER");
        }

        sockaddr_ll sll = default;
        sll.sll_family = (ushort)LibC.AF_PACKET;
        sll.sll_protocol = LibC.htons(PacketLibC.ETH_P_ALL);
        sll.sll_ifindex = ifindex;
        if (LibC.bind(fd.Value, (sockaddr*)&sll, (uint)sizeof(sockaddr_ll)) < 0)
        {
            LinuxThrowHelper.ThrowErrno("bind", $"interface index {ifindex}");
        }

        if (promiscuous)
        {
            packet_mreq mreq = default;
            mreq.mr_ifindex = ifindex;
            mreq.mr_type = (ushort)LibC.PACKET_MR_PROMISC;
            if (LibC.setsockopt(fd.Value, LibC.SOL_PACKET, LibC.PACKET_ADD_MEMBERSHIP, &mreq, (uint)sizeof(packet_mreq)) < 0)
            {
                LinuxThrowHelper.ThrowErrno("setsockopt", "PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC");
            }
        }

        if (joinFanout)
        {
            // The first socket without a chosen id asks the kernel for a free one and reads it back; the others join it.
            bool unique = fanoutId < 0;
            int mode = PacketLibC.PACKET_FANOUT_HASH | (unique ? PacketLibC.PACKET_FANOUT_FLAG_UNIQUEID : 0);
            SetInt(fd.Value, LibC.SOL_PACKET, LibC.PACKET_FANOUT, (unique ? 0 : fanoutId) | (mode << 16), "PACKET_FANOUT");
            if (unique)
            {
                int value = 0;
                socklen_t length = sizeof(int);
                if (LibC.getsockopt(fd.Value, LibC.SOL_PACKET, LibC.PACKET_FANOUT, &value, &length) < 0)
                {
                    LinuxThrowHelper.ThrowErrno("getsockopt", "PACKET_FANOUT");
                }

                fanoutId = value & 0xFFFF;
            }
        }

        int none = 0;
        if (LibC.setsockopt(fd.Value, LibC.SOL_SOCKET, LibC.SO_DETACH_FILTER, &none, sizeof(int)) < 0)
        {
            LinuxThrowHelper.ThrowErrno("setsockopt", "SO_DETACH_FILTER");
        }
    }

    /// <summary>Writes a send's virtio-net header (the 10-byte layout <c>PACKET_VNET_HDR</c> takes, little-endian) into <see cref="SendHeader"/>.</summary>
    public void WriteSendHeader(in VirtioNetHeader header) =>
        header.Write(new Span<byte>(_native, PacketLibC.VirtioNetHdrSize), NetHeaderLayout.Legacy);

    /// <summary>Records the failure that stops the queue (the first one wins).</summary>
    /// <returns><see langword="true"/> when this call set it.</returns>
    public bool TrySetFault(Exception error) => Interlocked.CompareExchange(ref _fault, error, null) is null;

    /// <summary>Claims the one report of the fault to the host.</summary>
    /// <returns><see langword="true"/> for the first caller.</returns>
    public bool TryClaimFaultReport() => Volatile.Read(ref _fault) is not null && Interlocked.Exchange(ref _faultReported, 1) == 0;

    /// <summary>Reads and clears the socket's pending error (<c>SO_ERROR</c>).</summary>
    /// <returns>The <c>errno</c> value, or 0.</returns>
    public int TakeSocketError()
    {
        using var fd = new FdRef(Socket);
        int error = 0;
        socklen_t length = sizeof(int);
        return LibC.getsockopt(fd.Value, LibC.SOL_SOCKET, LibC.SO_ERROR, &error, &length) < 0 ? LibC.errno : error;
    }

    /// <summary>
    /// Gets the interface index the socket is bound to (<c>getsockname</c>): the kernel sets it to -1 when the
    /// interface is unregistered (deleted, or moved to another namespace), while a link that only went down keeps it.
    /// </summary>
    /// <returns>The index, or -1 when unbound (or the call failed).</returns>
    public int BoundInterfaceIndex()
    {
        using var fd = new FdRef(Socket);
        sockaddr_ll sll = default;
        socklen_t length = (uint)sizeof(sockaddr_ll);
        return LibC.getsockname(fd.Value, (sockaddr*)&sll, &length) < 0 ? -1 : sll.sll_ifindex;
    }

    /// <summary>Adds the kernel's ring-full drops since the last read (<c>PACKET_STATISTICS</c>, reset by reading) and returns the total.</summary>
    public long ReadKernelDrops()
    {
        lock (InterestGate)
        {
            if (Socket.IsClosed)
            {
                return _kernelDrops;
            }

            using var fd = new FdRef(Socket);
            uint* stats = stackalloc uint[3];   // struct tpacket_stats_v3: tp_packets, tp_drops, tp_freeze_q_cnt
            socklen_t length = 3 * sizeof(uint);
            if (LibC.getsockopt(fd.Value, LibC.SOL_PACKET, LibC.PACKET_STATISTICS, stats, &length) == 0)
            {
                _kernelDrops += stats[1];
            }

            return _kernelDrops;
        }
    }

    /// <summary>Unmaps the ring, frees the native buffers and closes the socket (once).</summary>
    public void Dispose()
    {
        lock (InterestGate)
        {
            if (_ring is not null)
            {
                int rc = LibC.munmap(_ring, (size_t)_ringBytes);
                Debug.Assert(rc == 0, "munmap of our own ring failed");
                _ring = null;
            }

            if (_native is not null)
            {
                NativeMemory.Free(_native);
                _native = null;
            }

            Socket.Dispose();
        }
    }

    private static void SetInt(int fd, int level, int name, int value, string what)
    {
        if (LibC.setsockopt(fd, level, name, &value, sizeof(int)) < 0)
        {
            LinuxThrowHelper.ThrowErrno("setsockopt", what);
        }
    }
}
