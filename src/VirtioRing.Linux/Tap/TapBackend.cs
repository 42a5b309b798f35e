using System;
using System.Diagnostics;
using System.Threading;
using VirtioRing.Linux.Interop;
using VirtioRing.Net;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Tap;

/// <summary>
/// A virtio-net backend on a Linux TAP device ("async tap access"): each backend queue is one TAP
/// queue descriptor. Transmit is one <c>writev</c> per frame straight from the guest's buffers — the
/// virtio-net header from a small per-queue buffer, then the frame's pieces where they lie in guest
/// memory, no copy in user space. Receive is one <c>readv</c> per frame straight into the guest's
/// receive buffers when the host lends them (<see cref="INetDirectReceiveHost"/>, the device engine:
/// the kernel's copy is the only one), else into a per-queue buffer delivered to the host (the
/// peer-guest switch). Offloads (checksum, TSO, UFO, USO) pass through in both directions in the
/// virtio-net header (<c>IFF_VNET_HDR</c>).
/// </summary>
/// <remarks>
/// <para><b>Readiness</b>: one background thread per backend sleeps in <c>epoll_wait</c> on every
/// queue (edge-triggered) and calls <see cref="INetBackendHost.Wake"/> when frames arrive, when a
/// queue that answered <see cref="NetTransmitStatus.Busy"/> can take frames again, or when the TAP
/// fails. Nothing spins while idle. The thread starts in <see cref="Attach"/> and is joined by
/// <see cref="Detach"/>.</para>
/// <para><b>Device-wide settings follow the host</b>: before reading into lent buffers the header
/// size is set to the guest's (<c>TUNSETVNETHDRSZ</c>), and the offloads the kernel may leave undone
/// follow <see cref="INetBackendHost.ReceiveOffloads"/> (<c>TUNSETOFFLOAD</c>); both are cached and
/// changed only when they differ. A header size change waits for every queue's frame in flight.</para>
/// <para><b>Errors</b> are values, never exceptions out of <see cref="Transmit"/>/<see cref="Receive"/>:
/// <c>EAGAIN</c> is <see cref="NetTransmitStatus.Busy"/>; a frame the kernel refuses (<c>EINVAL</c>: a
/// virtio-net header it does not accept) or cannot take now (<c>EIO</c>: the interface is down) is
/// <see cref="NetTransmitStatus.Dropped"/> and counted; an error that means the TAP is gone
/// (<c>EBADFD</c> after the device was deleted, and any other unexpected error) fails the queue for
/// good: the host is told once (<see cref="INetBackendHost.ReportFault"/>) with a
/// <see cref="LinuxException"/>, and the queue drops every frame from then on.</para>
/// <para>Disposing the backend while a device still drives it is safe: <see cref="Transmit"/> then
/// drops and counts every frame (<see cref="TapQueueCounters.DroppedAfterFault"/>) and
/// <see cref="Receive"/> reads nothing; no <see cref="ObjectDisposedException"/> escapes either.</para>
/// <para><b>Byte order</b>: the virtio-net header is exchanged little-endian — the kernel's default on a
/// little-endian host, and the layout of every <c>VERSION_1</c> guest and of legacy guests on x86 and
/// arm64. A legacy (pre-1.0) guest on a big-endian host would need the kernel's header in big-endian
/// (<c>TUNSETVNETBE</c>), which this backend never sets: it assumes a little-endian host.</para>
/// <para>Allocation-free per frame: I/O vectors and header buffers are native and preallocated per queue.</para>
/// </remarks>
[DebuggerDisplay("TAP {Name}, {QueueCount} queue(s), offloads {Offloads}")]
public sealed unsafe partial class TapBackend : INetBackend, INetBackendQueueAware, IDisposable
{
    /// <summary>The longest frame written: an IPv6 packet with a 65535-byte payload, its Ethernet header and two VLAN tags (as the engine's own limit).</summary>
    internal const int MaxTransmitFrame = 65535 + 40 + 14 + 8;

    private readonly TapDevice _device;
    private readonly bool _ownsDevice;
    private readonly TapQueue[] _queues;
    private readonly object _configGate = new();
    private readonly object _lifecycleGate = new();
    private INetBackendHost? _host;
    private TapReadiness? _readiness;
    private int _vnetHeaderSize;            // the kernel's current size; written only while every queue's gate is held
    private int _requestedReceiveOffloads;  // what the host last asked for (NetOffloads), -1 before the first request
    private int _activeQueues;
    private bool _disposed;

    /// <summary>Creates a backend on an open TAP device.</summary>
    /// <param name="device">The device; its queues become the backend's queues.</param>
    /// <param name="offloads">The offloads to offer the guest, or <see langword="null"/> for all the device supports (restricted to <see cref="TapDevice.SupportedOffloads"/> either way).</param>
    /// <param name="ownsDevice">Whether disposing the backend disposes the device.</param>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    /// <exception cref="ObjectDisposedException">The device was disposed.</exception>
    public TapBackend(TapDevice device, NetOffloads? offloads = null, bool ownsDevice = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        _device = device;
        _ownsDevice = ownsDevice;
        Offloads = TapDevice.Normalize((offloads ?? device.SupportedOffloads) & device.SupportedOffloads);
        _vnetHeaderSize = device.VnetHeaderSize;
        _requestedReceiveOffloads = -1;
        _activeQueues = device.QueueCount;
        _queues = new TapQueue[device.QueueCount];
        try
        {
            for (int i = 0; i < _queues.Length; i++)
            {
                _queues[i] = new TapQueue(this, i, device.GetQueueHandle(i));
            }
        }
        catch
        {
            foreach (TapQueue? q in _queues)
            {
                q?.Close();
            }

            throw;
        }
    }

    /// <summary>Gets the TAP device.</summary>
    public TapDevice Device => _device;

    /// <summary>Gets the TAP's interface name.</summary>
    public string Name => _device.Name;

    /// <inheritdoc/>
    /// <remarks>What the options asked for, restricted to what this kernel's TAP carries (never <see cref="NetOffloads.HashReport"/>).</remarks>
    public NetOffloads Offloads { get; }

    /// <inheritdoc/>
    public int QueueCount => _queues.Length;

    /// <summary>Gets the number of queues attached to the device (<see cref="SetActiveQueues"/>; all of them at first).</summary>
    public int ActiveQueues => Volatile.Read(ref _activeQueues);

    /// <summary>Opens (or creates) a TAP device as the options say and makes a backend that owns it.</summary>
    /// <param name="options">The device options (name, queues, persistence, offloads).</param>
    /// <returns>The backend.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    /// <exception cref="InvalidOperationException">See <see cref="TapDevice.Open"/>.</exception>
    /// <exception cref="LinuxException">See <see cref="TapDevice.Open"/>.</exception>
    public static TapBackend Create(TapOptions options)
    {
        TapDevice device = TapDevice.Open(options);
        try
        {
            return new TapBackend(device, options.Offloads, ownsDevice: true);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>Attaches to an existing TAP device by name (it is not created) and makes a backend that owns the descriptors.</summary>
    /// <param name="name">The interface name, in the calling thread's network namespace.</param>
    /// <param name="queues">The number of queues to open (more than one needs a multi-queue TAP).</param>
    /// <returns>The backend.</returns>
    /// <exception cref="ArgumentException">The name or queue count is invalid.</exception>
    /// <exception cref="InvalidOperationException">There is no interface of that name.</exception>
    /// <exception cref="LinuxException">See <see cref="TapDevice.Open"/>.</exception>
    public static TapBackend OpenExisting(string name, int queues = 1)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Create(new TapOptions { Name = name, Queues = queues, CreateIfMissing = false });
    }

    /// <summary>Gets a snapshot of a queue's counters.</summary>
    /// <param name="queue">The queue.</param>
    /// <returns>The counters.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is out of range.</exception>
    public TapQueueCounters GetCounters(int queue) => GetQueue(queue).Snapshot();

    /// <summary>Gets why a queue failed for good, or <see langword="null"/> while it works.</summary>
    /// <param name="queue">The queue.</param>
    /// <returns>The <see cref="LinuxException"/> that stopped it (the host was given the same one).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is out of range.</exception>
    public Exception? GetFault(int queue) => GetQueue(queue).Fault;

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException"><paramref name="host"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The backend is already attached.</exception>
    /// <exception cref="ObjectDisposedException">The backend was disposed.</exception>
    /// <exception cref="LinuxException">The readiness thread's epoll instance could not be set up.</exception>
    public void Attach(INetBackendHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        lock (_lifecycleGate)
        {
            if (_disposed)
            {
                LinuxThrowHelper.ThrowObjectDisposed(nameof(TapBackend));
            }

            if (_host is not null)
            {
                LinuxThrowHelper.ThrowInvalidOperation($"TAP backend {Name} is already attached to a host.");
            }

            var readiness = new TapReadiness(this, Name);
            try
            {
                foreach (TapQueue q in _queues)
                {
                    if (!q.IsFaulted)
                    {
                        readiness.Add(q);
                    }
                }
            }
            catch
            {
                readiness.Dispose();
                throw;
            }

            Volatile.Write(ref _host, host);
            _readiness = readiness;
            readiness.Start();
        }
    }

    /// <inheritdoc/>
    /// <remarks>Stops and joins the readiness thread; no host call follows.</remarks>
    public void Detach()
    {
        TapReadiness? readiness;
        lock (_lifecycleGate)
        {
            readiness = _readiness;
            _readiness = null;
            Volatile.Write(ref _host, null);
        }

        readiness?.Dispose();
        foreach (TapQueue q in _queues)
        {
            q.OutputArmed = false;
        }
    }

    /// <summary>
    /// Attaches the first <paramref name="count"/> queues to the TAP and detaches the rest
    /// (<c>TUNSETQUEUE</c>), so the kernel steers received frames only to queues someone reads. The
    /// engine calls it with the number of backend queues in use. A device that is not multi-queue
    /// ignores it. Frames written on a detached queue still go through while the link is up (when it is
    /// down they are dropped and counted as <see cref="TapQueueCounters.TransmitLinkDown"/>, as on any queue).
    /// </summary>
    /// <param name="count">The queues in use, clamped to 1 .. <see cref="QueueCount"/>.</param>
    /// <remarks>Never throws for the device's sake: a queue whose ioctl fails (the TAP was deleted) is failed and reported to the host.</remarks>
    public void SetActiveQueues(int count)
    {
        count = Math.Clamp(count, 1, _queues.Length);
        lock (_configGate)
        {
            Volatile.Write(ref _activeQueues, count);
            if (!_device.IsMultiQueue)
            {
                return;
            }

            for (int i = 0; i < _queues.Length; i++)
            {
                TapQueue q = _queues[i];
                if (q.IsFaulted)
                {
                    continue;
                }

                try
                {
                    if (i < count)
                    {
                        _device.AttachQueue(i);
                    }
                    else
                    {
                        _device.DetachQueue(i);
                    }
                }
                catch (LinuxException e)
                {
                    Fail(q, e);
                }
                catch (ObjectDisposedException)
                {
                    return;   // disposed meanwhile: nothing to steer any more
                }
            }
        }

        // A queue attached again may already hold frames (and its edge may have come while nobody polled it): let its worker look.
        for (int i = 0; i < count; i++)
        {
            WakeHost(i);
        }
    }

    /// <inheritdoc/>
    public void FlushTransmit(int queue)
    {
        // Every frame was written by its own writev: nothing is buffered.
    }

    /// <summary>Detaches, stops every queue's I/O, and closes the device when the backend owns it.</summary>
    public void Dispose()
    {
        lock (_lifecycleGate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        Detach();
        foreach (TapQueue q in _queues)
        {
            q.Close();
        }

        if (_ownsDevice)
        {
            _device.Dispose();
        }
    }

    /// <summary>The readiness thread saw an event on a queue: count it and wake the host.</summary>
    internal void OnReady(int queue)
    {
        if ((uint)queue < (uint)_queues.Length)
        {
            Interlocked.Increment(ref _queues[queue].Wakeups);
            WakeHost(queue);
        }
    }

    internal void WakeHost(int queue) => Volatile.Read(ref _host)?.Wake(queue);

    /// <summary>
    /// Fails a queue for good: records the error, stops watching it, tells the host once. Called from
    /// the thread driving the queue (or <see cref="SetActiveQueues"/>); never throws.
    /// </summary>
    private void Fail(TapQueue q, LinuxException error)
    {
        if (!q.TrySetFault(error))
        {
            return;
        }

        _readiness?.Remove(q);
        INetBackendHost? host = Volatile.Read(ref _host);
        host?.ReportFault(q.Index, error);
    }

    /// <summary>Builds the exception for an error that ends a queue, saying what it means for a TAP.</summary>
    private LinuxException QueueError(string call, int errno, int queue)
    {
        string meaning = errno == Tmds.Linux.LibC.EBADFD
            ? "the TAP device was deleted"
            : "the TAP queue cannot be used any more";
        return new LinuxException(call, errno, $"TAP \"{Name}\" queue {queue}: {meaning}; the queue is stopped and its frames are dropped");
    }

    internal TapQueue GetQueue(int queue)
    {
        if ((uint)queue >= (uint)_queues.Length)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(queue), $"The queue must be 0 to {_queues.Length - 1} (got {queue}).");
        }

        return _queues[queue];
    }

    /// <summary>
    /// Sets the kernel's virtio-net header size for every queue: under the configuration lock, with
    /// every queue's lock held (in index order) so no frame is in flight with the old size.
    /// </summary>
    /// <returns><see langword="false"/> when the ioctl failed (the calling queue is failed with the error).</returns>
    private bool ChangeHeaderSize(TapQueue caller, int size)
    {
        lock (_configGate)
        {
            if (Volatile.Read(ref _vnetHeaderSize) == size)
            {
                return true;
            }

            int held = 0;
            try
            {
                for (; held < _queues.Length; held++)
                {
                    Monitor.Enter(_queues[held].Gate);
                }

                _device.SetVnetHeaderSize(size);
                Volatile.Write(ref _vnetHeaderSize, size);
                return true;
            }
            catch (LinuxException e)
            {
                Fail(caller, QueueError("ioctl", e.Errno, caller.Index));
                return false;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
            finally
            {
                while (held > 0)
                {
                    Monitor.Exit(_queues[--held].Gate);
                }
            }
        }
    }

    /// <summary>
    /// Makes the kernel's receive offloads follow what the host accepts (cached: an ioctl only when the
    /// request changes). The device asks for less when the kernel refuses a set
    /// (<see cref="TapDevice.SetReceiveOffloads"/>) and keeps what the kernel took; an offload request
    /// never fails a queue: frames the kernel hands over with less offloaded are only more complete,
    /// and the host adapts anything the guest did not accept.
    /// </summary>
    /// <returns><see langword="false"/> when the ioctl failed because the TAP is gone (the calling queue is failed with the error) or the backend was disposed.</returns>
    private bool FollowReceiveOffloads(TapQueue caller, NetOffloads accepted)
    {
        NetOffloads wanted = accepted & Offloads;
        if (Volatile.Read(ref _requestedReceiveOffloads) == (int)wanted)
        {
            return true;
        }

        lock (_configGate)
        {
            if (_requestedReceiveOffloads == (int)wanted)
            {
                return true;
            }

            try
            {
                _device.SetReceiveOffloads(wanted);
            }
            catch (LinuxException e) when (e.Errno == Tmds.Linux.LibC.EINVAL)
            {
                // Even "no offloads" refused: the kernel keeps its last setting and the host adapts what the guest does not take.
            }
            catch (LinuxException e)
            {
                Fail(caller, QueueError("ioctl", e.Errno, caller.Index));
                return false;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }

            Volatile.Write(ref _requestedReceiveOffloads, (int)wanted);
            return true;
        }
    }
}
