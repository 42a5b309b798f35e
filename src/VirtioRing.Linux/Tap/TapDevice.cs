using System;
using System.Diagnostics;
using System.Text;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Net;

namespace VirtioRing.Linux.Tap;

/// <summary>
/// A TAP network interface opened through <c>/dev/net/tun</c>: one non-blocking descriptor per
/// queue, each a source and sink of Ethernet frames with a virtio-net header in front
/// (<c>IFF_TAP | IFF_NO_PI | IFF_VNET_HDR</c>, and <c>IFF_MULTI_QUEUE</c> with several queues).
/// Owns its descriptors; a device that is not persistent goes away when the last one closes.
/// </summary>
/// <remarks>
/// <para>Device-wide settings — the virtio-net header size (<c>TUNSETVNETHDRSZ</c>), the offloads
/// the kernel may leave undone in frames it hands over (<c>TUNSETOFFLOAD</c>), persistence — apply to
/// every queue at once; a queue can be detached from the device and attached back
/// (<c>TUNSETQUEUE</c>) so the kernel stops steering received frames to it while nobody reads it.</para>
/// <para>Thread-safe: the setters serialise on one lock. The queue handles may be used from any
/// thread (<see cref="TapBackend"/> reads and writes them on the queue pairs' workers).</para>
/// </remarks>
[DebuggerDisplay("TAP {Name}, {QueueCount} queue(s), vnet header {VnetHeaderSize} B")]
public sealed unsafe class TapDevice : IDisposable
{
    private const short OpenFlags = Tun.IFF_TAP | Tun.IFF_NO_PI | Tun.IFF_VNET_HDR;
    private static readonly byte[] TunPath = "/dev/net/tun\0"u8.ToArray();

    private readonly object _gate = new();
    private readonly SafeFileDescriptor[] _queues;
    private readonly bool[] _attached;
    private NetOffloads _receiveOffloads;
    private int _vnetHeaderSize;
    private bool _persistent;
    private bool _disposed;

    private TapDevice(string name, SafeFileDescriptor[] queues, bool multiQueue, bool created, NetOffloads supported, bool persistent)
    {
        Name = name;
        _queues = queues;
        _attached = new bool[queues.Length];
        Array.Fill(_attached, true);
        IsMultiQueue = multiQueue;
        WasCreated = created;
        SupportedOffloads = supported;
        _persistent = persistent;
    }

    /// <summary>The virtio-net header size the device is opened with (<c>VERSION_1</c>'s 12 bytes; the kernel's own default is the legacy 10).</summary>
    public const int InitialVnetHeaderSize = NetHeaderLayout.BasicSize;

    /// <summary>Gets the interface name (the kernel's choice when the options gave a template).</summary>
    public string Name { get; }

    /// <summary>Gets the number of queues (descriptors).</summary>
    public int QueueCount => _queues.Length;

    /// <summary>Gets whether the device was opened with <c>IFF_MULTI_QUEUE</c>.</summary>
    public bool IsMultiQueue { get; }

    /// <summary>Gets whether this open created the device (no interface of that name existed before).</summary>
    public bool WasCreated { get; }

    /// <summary>Gets whether the device is persistent (as set through the options or <see cref="SetPersistent"/>; not re-read from the kernel).</summary>
    public bool IsPersistent
    {
        get
        {
            lock (_gate)
            {
                return _persistent;
            }
        }
    }

    /// <summary>
    /// Gets the offloads this kernel's TAP supports in both directions: checksum, TSO4/TSO6 with ECN,
    /// UFO, and USO4/USO6 (Linux 6.2 and later) — probed with <c>TUNSETOFFLOAD</c> when the device was
    /// opened. Never <see cref="NetOffloads.HashReport"/>.
    /// </summary>
    public NetOffloads SupportedOffloads { get; }

    /// <summary>Gets the virtio-net header size the kernel reads and writes (<c>TUNSETVNETHDRSZ</c>; <see cref="InitialVnetHeaderSize"/> after opening).</summary>
    public int VnetHeaderSize
    {
        get
        {
            lock (_gate)
            {
                return _vnetHeaderSize;
            }
        }
    }

    /// <summary>Gets the offloads the kernel may leave undone in frames it hands over (<c>TUNSETOFFLOAD</c>; none after opening).</summary>
    public NetOffloads ReceiveOffloads
    {
        get
        {
            lock (_gate)
            {
                return _receiveOffloads;
            }
        }
    }

    /// <summary>
    /// Opens (and, as the options say, creates) a TAP device in the calling thread's network namespace.
    /// </summary>
    /// <param name="options">The options.</param>
    /// <returns>The open device, with <see cref="InitialVnetHeaderSize"/>-byte headers and no receive offloads.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    /// <exception cref="InvalidOperationException"><see cref="TapOptions.CreateIfMissing"/> is false and there is no interface of that name,
    /// or the kernel's TUN driver lacks a feature the options need.</exception>
    /// <exception cref="LinuxException"><c>open</c> of <c>/dev/net/tun</c> or an ioctl failed; the message says which and what it tried
    /// (<c>EPERM</c>: not permitted, CAP_NET_ADMIN is needed to create; <c>EBUSY</c>/<c>EINVAL</c> on <c>TUNSETIFF</c>: an existing device
    /// of that name is not a TAP, is in use by a single-queue owner, or differs in <c>IFF_MULTI_QUEUE</c>).</exception>
    public static TapDevice Open(TapOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        string requested = options.EffectiveName;
        bool template = requested.Contains("%d", StringComparison.Ordinal);
        bool existed = !template && InterfaceExists(requested);
        if (!options.CreateIfMissing && !existed)
        {
            LinuxThrowHelper.ThrowInvalidOperation($"There is no network interface \"{requested}\" in this network namespace to attach to (CreateIfMissing is false).");
        }

        bool multi = options.EffectiveMultiQueue;
        short flags = (short)(OpenFlags | (multi ? Tun.IFF_MULTI_QUEUE : 0));
        var queues = new SafeFileDescriptor[options.Queues];
        string name = requested;
        try
        {
            queues[0] = OpenTun();
            CheckFeatures(queues[0], flags);
            for (int i = 0; i < queues.Length; i++)
            {
                queues[i] ??= OpenTun();
                name = SetIff(queues[i], name, flags, i);
            }

            NetOffloads supported = ProbeOffloads(queues[0], name);
            var device = new TapDevice(name, queues, multi, created: !existed, supported, persistent: false);
            device.SetVnetHeaderSize(InitialVnetHeaderSize);
            device.SetReceiveOffloads(NetOffloads.None);
            if (options.SendBufferSize is int sndbuf)
            {
                for (int i = 0; i < queues.Length; i++)
                {
                    using var fd = new FdRef(queues[i]);
                    IoctlPointer(fd.Value, Tun.TUNSETSNDBUF, &sndbuf, "TUNSETSNDBUF", name, $"queue {i}, {sndbuf} bytes");
                }
            }

            if (options.Persistent)
            {
                device.SetPersistent(true);   // last: a failure above leaves no persistent device behind
            }

            return device;
        }
        catch
        {
            foreach (SafeFileDescriptor? q in queues)
            {
                q?.Dispose();
            }

            throw;
        }
    }

    /// <summary>Gets a queue's descriptor (for <c>epoll</c>, or to hand to another process). It stays owned by the device.</summary>
    /// <param name="queue">The queue, 0 to <see cref="QueueCount"/> - 1.</param>
    /// <returns>The descriptor.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is out of range.</exception>
    public SafeFileDescriptor GetQueueHandle(int queue)
    {
        CheckQueue(queue);
        return _queues[queue];
    }

    /// <summary>Gets whether a queue is attached (the kernel steers received frames to it).</summary>
    /// <param name="queue">The queue.</param>
    /// <returns><see langword="false"/> after <see cref="DetachQueue"/>, until <see cref="AttachQueue"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is out of range.</exception>
    public bool IsQueueAttached(int queue)
    {
        CheckQueue(queue);
        lock (_gate)
        {
            return _attached[queue];
        }
    }

    /// <summary>
    /// Sets the size of the virtio-net header the kernel expects before every written frame and
    /// writes before every read one (<c>TUNSETVNETHDRSZ</c>; bytes past the 10-byte basic header are
    /// ignored on write and zero on read). Device-wide: a write in flight on another queue must use
    /// the same size, which <see cref="TapBackend"/> makes sure of.
    /// </summary>
    /// <remarks>A <see cref="TapBackend"/> on this device sets the size itself (to the guest's) and keeps
    /// what it set: do not change it under a running backend, or its frames carry the wrong header.</remarks>
    /// <param name="size">10, 12 or 20 (the virtio-net layouts).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not 10, 12 or 20.</exception>
    /// <exception cref="LinuxException">The ioctl failed (<c>EBADFD</c>: the device was deleted).</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public void SetVnetHeaderSize(int size)
    {
        if (size is not (NetHeaderLayout.LegacySize or NetHeaderLayout.BasicSize or NetHeaderLayout.HashReportSize))
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(size), $"The virtio-net header is 10, 12 or 20 bytes (got {size}).");
        }

        lock (_gate)
        {
            ThrowIfDisposed();
            if (size == _vnetHeaderSize)
            {
                return;
            }

            using var fd = new FdRef(_queues[0]);
            IoctlPointer(fd.Value, Tun.TUNSETVNETHDRSZ, &size, "TUNSETVNETHDRSZ", Name, $"{size} bytes");
            _vnetHeaderSize = size;
        }
    }

    /// <summary>
    /// Tells the kernel which offloads it may leave undone in frames it hands over
    /// (<c>TUNSETOFFLOAD</c>): with <see cref="NetOffloads.Checksum"/> frames may carry a partial
    /// checksum (<c>NEEDS_CSUM</c>), with TSO/UFO/USO they may be super-frames; everything else the
    /// kernel completes or segments first. Frames written to the device may use any offload whatever
    /// this says. Offloads this kernel lacks are left out, segmentation without checksum offload is
    /// impossible (the kernel refuses it), and USO4 and USO6 go together or not at all (the kernel
    /// refuses one without the other), so those are dropped too. When the kernel still refuses the
    /// set (<c>EINVAL</c>), less is asked, as QEMU does: without USO, then without UFO, then checksum
    /// only, then nothing. Asking for less is always safe: the kernel then completes more itself.
    /// </summary>
    /// <param name="offloads">The offloads the reader accepts (the guest's <c>GUEST_*</c> features).</param>
    /// <returns>The offloads the kernel took (also <see cref="ReceiveOffloads"/>): at most what was asked.</returns>
    /// <exception cref="LinuxException">The ioctl failed with another error than <c>EINVAL</c> (<c>EBADFD</c>: the device was
    /// deleted), or the kernel refused even no offloads at all with <c>EINVAL</c>.</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public NetOffloads SetReceiveOffloads(NetOffloads offloads)
    {
        NetOffloads effective = Normalize(offloads & SupportedOffloads);
        lock (_gate)
        {
            ThrowIfDisposed();
            using var fd = new FdRef(_queues[0]);
            while (true)
            {
                if (Tun.ioctl_value(fd.Value, Tun.TUNSETOFFLOAD, ToTunFlags(effective)) == 0)
                {
                    _receiveOffloads = effective;
                    return effective;
                }

                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno != LibC.EINVAL || effective == NetOffloads.None)
                {
                    System.Runtime.InteropServices.Marshal.SetLastPInvokeError(errno);
                    ThrowIoctl("TUNSETOFFLOAD", Name, $"0x{ToTunFlags(effective):x} ({effective})");
                }

                effective = Reduce(effective);
            }
        }
    }

    /// <summary>Makes the device persistent or not (<c>TUNSETPERSIST</c>): a persistent device stays after its last descriptor closes.</summary>
    /// <param name="persistent">The new setting.</param>
    /// <exception cref="LinuxException">The ioctl failed.</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public void SetPersistent(bool persistent)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            using var fd = new FdRef(_queues[0]);
            if (Tun.ioctl_value(fd.Value, Tun.TUNSETPERSIST, persistent ? 1u : 0u) < 0)
            {
                ThrowIoctl("TUNSETPERSIST", Name, persistent ? "on" : "off");
            }

            _persistent = persistent;
        }
    }

    /// <summary>
    /// Detaches a queue from the device (<c>TUNSETQUEUE</c> with <c>IFF_DETACH_QUEUE</c>): the kernel
    /// stops steering received frames to it (frames written to it still go through). Multi-queue
    /// devices only; nothing happens when it is already detached.
    /// </summary>
    /// <param name="queue">The queue.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is out of range.</exception>
    /// <exception cref="InvalidOperationException">The device is not multi-queue.</exception>
    /// <exception cref="LinuxException">The ioctl failed.</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public void DetachQueue(int queue) => SetQueue(queue, attach: false);

    /// <summary>Attaches a detached queue back (<c>TUNSETQUEUE</c> with <c>IFF_ATTACH_QUEUE</c>); nothing happens when it is attached.</summary>
    /// <param name="queue">The queue.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is out of range.</exception>
    /// <exception cref="InvalidOperationException">The device is not multi-queue.</exception>
    /// <exception cref="LinuxException">The ioctl failed.</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public void AttachQueue(int queue) => SetQueue(queue, attach: true);

    /// <summary>Closes every queue descriptor (the device goes away unless it is persistent).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        foreach (SafeFileDescriptor q in _queues)
        {
            q.Dispose();
        }
    }

    /// <summary>Maps offloads to <c>TUN_F_*</c> bits.</summary>
    internal static uint ToTunFlags(NetOffloads offloads)
    {
        uint f = 0;
        f |= (offloads & NetOffloads.Checksum) != 0 ? Tun.TUN_F_CSUM : 0;
        f |= (offloads & NetOffloads.Tso4) != 0 ? Tun.TUN_F_TSO4 : 0;
        f |= (offloads & NetOffloads.Tso6) != 0 ? Tun.TUN_F_TSO6 : 0;
        f |= (offloads & NetOffloads.Ecn) != 0 ? Tun.TUN_F_TSO_ECN : 0;
        f |= (offloads & NetOffloads.Ufo) != 0 ? Tun.TUN_F_UFO : 0;
        f |= (offloads & NetOffloads.Uso4) != 0 ? Tun.TUN_F_USO4 : 0;
        f |= (offloads & NetOffloads.Uso6) != 0 ? Tun.TUN_F_USO6 : 0;
        return f;
    }

    /// <summary>
    /// What the kernel accepts together: every segmentation offload needs checksum offload; ECN needs
    /// TSO; USO4 and USO6 only both or neither (Linux's <c>set_offload</c> answers <c>EINVAL</c> to one alone).
    /// </summary>
    internal static NetOffloads Normalize(NetOffloads offloads)
    {
        offloads &= ~NetOffloads.HashReport;
        if ((offloads & NetOffloads.Checksum) == 0)
        {
            return NetOffloads.None;
        }

        if ((offloads & (NetOffloads.Tso4 | NetOffloads.Tso6)) == 0)
        {
            offloads &= ~NetOffloads.Ecn;
        }

        if ((offloads & (NetOffloads.Uso4 | NetOffloads.Uso6)) != (NetOffloads.Uso4 | NetOffloads.Uso6))
        {
            offloads &= ~(NetOffloads.Uso4 | NetOffloads.Uso6);
        }

        return offloads;
    }

    /// <summary>
    /// The next, smaller set to ask for after the kernel refused <paramref name="offloads"/> (as QEMU's
    /// <c>tap_fd_set_offload</c>): without USO, then without UFO, then checksum only, then nothing.
    /// </summary>
    internal static NetOffloads Reduce(NetOffloads offloads)
    {
        const NetOffloads uso = NetOffloads.Uso4 | NetOffloads.Uso6;
        if ((offloads & uso) != 0)
        {
            return offloads & ~uso;
        }

        if ((offloads & NetOffloads.Ufo) != 0)
        {
            return offloads & ~NetOffloads.Ufo;
        }

        return offloads == NetOffloads.Checksum || (offloads & NetOffloads.Checksum) == 0 ? NetOffloads.None : NetOffloads.Checksum;
    }

    private void SetQueue(int queue, bool attach)
    {
        CheckQueue(queue);
        lock (_gate)
        {
            ThrowIfDisposed();
            if (!IsMultiQueue)
            {
                LinuxThrowHelper.ThrowInvalidOperation($"TAP \"{Name}\" is not multi-queue: its queue cannot be detached or attached.");
            }

            if (_attached[queue] == attach)
            {
                return;
            }

            ifreq req = default;
            req.ifr_flags = attach ? Tun.IFF_ATTACH_QUEUE : Tun.IFF_DETACH_QUEUE;
            using var fd = new FdRef(_queues[queue]);
            IoctlPointer(fd.Value, Tun.TUNSETQUEUE, &req, "TUNSETQUEUE", Name, $"queue {queue}, {(attach ? "IFF_ATTACH_QUEUE" : "IFF_DETACH_QUEUE")}");
            _attached[queue] = attach;
        }
    }

    private static SafeFileDescriptor OpenTun()
    {
        int fd;
        fixed (byte* path = TunPath)
        {
            fd = LibC.open(path, LibC.O_RDWR | LibC.O_CLOEXEC | LibC.O_NONBLOCK, 0);
        }

        if (fd < 0)
        {
            int errno = LibC.errno;
            string hint = errno == LibC.ENOENT ? "the TUN driver's device node is missing (modprobe tun)"
                : errno is 1 or 13 ? "not permitted (root, or read-write access to /dev/net/tun, is needed)"   // EPERM, EACCES
                : "opening the TUN driver";
            throw new LinuxException("open", errno, $"/dev/net/tun: {hint}");
        }

        return new SafeFileDescriptor(fd, ownsHandle: true);
    }

    private static void CheckFeatures(SafeFileDescriptor tun, short flags)
    {
        uint features = 0;
        using var fd = new FdRef(tun);
        IoctlPointer(fd.Value, Tun.TUNGETFEATURES, &features, "TUNGETFEATURES", "/dev/net/tun", string.Empty);
        uint needed = (ushort)flags;
        if ((features & needed) != needed)
        {
            LinuxThrowHelper.ThrowInvalidOperation($"The kernel's TUN driver lacks flags 0x{needed & ~features:x} (it supports 0x{features:x}; IFF_VNET_HDR and IFF_MULTI_QUEUE are needed).");
        }
    }

    /// <summary>Binds a descriptor to the device (<c>TUNSETIFF</c>); returns the name the kernel used.</summary>
    private static string SetIff(SafeFileDescriptor tun, string name, short flags, int queue)
    {
        ifreq req = default;
        int n = Encoding.UTF8.GetBytes(name, new Span<byte>(req.ifr_name, Tun.IFNAMSIZ - 1));
        req.ifr_name[n] = 0;
        req.ifr_flags = flags;
        using var fd = new FdRef(tun);
        if (Tun.ioctl(fd.Value, Tun.TUNSETIFF, &req) < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            string hint = errno switch
            {
                1 => "not permitted (CAP_NET_ADMIN is needed to create a TAP, or the device belongs to another user)",   // EPERM
                16 => "the device is busy (a single-queue TAP already open elsewhere, or IFF_TUN_EXCL)",                // EBUSY
                22 => "an existing interface of this name is not a TAP, or its IFF_MULTI_QUEUE setting differs",      // EINVAL
                7 => $"the device has no room for another queue (at most {Tun.MAX_TAP_QUEUES})",                      // E2BIG
                _ => "binding the descriptor to the device",
            };
            throw new LinuxException("ioctl", errno, $"TUNSETIFF \"{name}\" flags 0x{(ushort)flags:x}, queue {queue}: {hint}");
        }

        int len = 0;
        while (len < Tun.IFNAMSIZ && req.ifr_name[len] != 0)
        {
            len++;
        }

        return Encoding.UTF8.GetString(req.ifr_name, len);
    }

    private static NetOffloads ProbeOffloads(SafeFileDescriptor tun, string name)
    {
        using var fd = new FdRef(tun);
        NetOffloads[] candidates =
        [
            NetOffloads.All & ~NetOffloads.HashReport,
            NetOffloads.All & ~(NetOffloads.HashReport | NetOffloads.Uso4 | NetOffloads.Uso6),          // before Linux 6.2
            NetOffloads.Checksum | NetOffloads.Tso4 | NetOffloads.Tso6 | NetOffloads.Ecn,
            NetOffloads.Checksum,
        ];
        foreach (NetOffloads c in candidates)
        {
            if (Tun.ioctl_value(fd.Value, Tun.TUNSETOFFLOAD, ToTunFlags(c)) == 0)
            {
                return c;
            }

            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno != LibC.EINVAL)
            {
                throw new LinuxException("ioctl", errno, $"TUNSETOFFLOAD \"{name}\" (probing the supported offloads)");
            }
        }

        return NetOffloads.None;
    }

    private static bool InterfaceExists(string name)
    {
        byte* cname = stackalloc byte[Tun.IFNAMSIZ];
        int n = Encoding.UTF8.GetBytes(name, new Span<byte>(cname, Tun.IFNAMSIZ - 1));
        cname[n] = 0;
        return Tun.if_nametoindex(cname) != 0;
    }

    private static void IoctlPointer(int fd, uint request, void* arg, string requestName, string device, string detail)
    {
        if (Tun.ioctl(fd, request, arg) < 0)
        {
            ThrowIoctl(requestName, device, detail);
        }
    }

    private static void ThrowIoctl(string requestName, string device, string detail)
    {
        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        string what = detail.Length == 0 ? $"{requestName} on \"{device}\"" : $"{requestName} on \"{device}\" ({detail})";
        if (errno == LibC.EBADFD)
        {
            what += ": the device was deleted";
        }

        throw new LinuxException("ioctl", errno, what);
    }

    private void CheckQueue(int queue)
    {
        if ((uint)queue >= (uint)_queues.Length)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(queue), $"The queue must be 0 to {_queues.Length - 1} (got {queue}).");
        }
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            LinuxThrowHelper.ThrowObjectDisposed(nameof(TapDevice));
        }
    }
}
