using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtioRing.Linux;
using VirtioRing.Net;
using VirtioRing.Net.Engine;
using VirtioRing.Queues;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Transport;

namespace VirtioRing.VhostUser.Backend;

/// <summary>
/// A vhost-user virtio-net back-end: serves one <see cref="NetDevice"/> to one front-end at a time
/// (QEMU, DPDK virtio-user, a test client). The front-end's memory is mapped from the fds it passes;
/// each started vring becomes a <c>SplitDeviceQueue</c> or <c>PackedDeviceQueue</c> bound to the
/// device (the same queue code as in-process); kicks arrive on the kick eventfds and calls go out on
/// the call eventfds.
/// </summary>
/// <remarks>
/// <para><b>Kicks</b>: when the device's pair workers sleep on an <see cref="EpollWorkerSignal"/> (build
/// the device with <c>SignalFactory = new EpollWorkerSignalFactory().Create</c>), each kick eventfd
/// is watched by its pair's own worker: no thread hop. Otherwise one back-end thread watches them.</para>
/// <para><b>Control queue</b>: a vhost-user front-end handles the control virtqueue itself; vrings are
/// the 2 × <see cref="NetDevice.MaxQueuePairs"/> data queues only, and queue pairs come and go with
/// <c>SET_VRING_ENABLE</c>: the device's active pairs are the leading pairs whose two rings are
/// started and enabled.</para>
/// <para><b>Errors</b>: anything the protocol does not allow (see <see cref="VhostUserProtocolError"/>)
/// is logged and ends the session: the connection is closed, every ring stopped, every mapping and
/// fd released and the device reset, ready for the next front-end. Nothing is thrown to the caller of
/// <see cref="Serve"/> for it.</para>
/// <para><b>Live migration</b>: with <c>LOG_SHMFD</c> and <c>VHOST_F_LOG_ALL</c> every guest write of the
/// device queues is marked in the front-end's dirty log (<c>SET_LOG_BASE</c>): the bytes written into
/// receive buffers, the used ring (at <c>log_guest_addr</c> with <c>VHOST_VRING_F_LOG</c>), a packed
/// ring's used descriptors. Logging costs one null check per push when off.</para>
/// <para><b>Not implemented (and so not offered)</b>: inflight tracking, postcopy, IOTLB, in-band
/// notifications, the back-end request channel.</para>
/// </remarks>
[DebuggerDisplay("vhost-user net backend {Device.Name}")]
public sealed partial class VhostUserNetBackend : IDisposable
{
    /// <summary><c>VHOST_USER_F_PROTOCOL_FEATURES</c>: feature bit 30, the vhost-user reuse of a reserved virtio bit.</summary>
    public const ulong ProtocolFeaturesBit = 1UL << 30;

    /// <summary>
    /// <c>VHOST_F_LOG_ALL</c>: feature bit 26, which the front-end sets with <c>SET_FEATURES</c> while a
    /// live migration needs every guest write logged (offered with <c>LOG_SHMFD</c>; never passed to the device).
    /// </summary>
    public const ulong LogAllFeatureBit = 1UL << 26;

    /// <summary>The virtio status bit <c>DEVICE_NEEDS_RESET</c> (virtio 1.3 §2.1).</summary>
    private const byte DeviceNeedsReset = 0x40;

    /// <summary>The most retired memory tables kept alive for chains still held in them before the session is refused.</summary>
    private const int MaxRetiredTables = 16;

    private readonly object _gate = new();
    private readonly ILogger _logger;
    private readonly VhostUserNetBackendOptions _options;
    private readonly VhostUserVring[] _rings;
    private readonly List<VhostUserMemoryTable> _retired = [];
    private readonly VhostUserProtocolFeatures _offeredProtocol;
    private KickLoop? _kickLoop;
    private VhostUserChannel? _channel;
    private VhostUserMemoryTable? _table;
    private VhostUserDirtyLog? _log;
    private VhostUserProtocolFeatures _protocol;
    private ulong _acked;
    private bool _featuresSet;
    private bool _unsealedWarned;
    private byte _status;
    private long _messages;
    private bool _disposed;

    /// <summary>Creates a back-end for a device; nothing is served until <see cref="Serve"/> (or <see cref="RunServer"/>, <see cref="RunClient"/>).</summary>
    /// <param name="device">The device (not started; the back-end drives its lifecycle while a session runs).</param>
    /// <param name="options">The options, or null for the defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="device"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="VhostUserNetBackendOptions.MaxMemorySlots"/> is out of range.</exception>
    public VhostUserNetBackend(NetDevice device, VhostUserNetBackendOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        _options = options ?? new VhostUserNetBackendOptions();
        if (_options.MaxMemorySlots is < 1 or > 509)
        {
            VhostUserThrowHelper.ThrowArgumentOutOfRange(nameof(options), "MaxMemorySlots is 1 to 509.");
        }

        Device = device;
        _logger = _options.Logger ?? NullLogger.Instance;
        _offeredProtocol = _options.ProtocolFeatures & VhostUserNetBackendOptions.DefaultProtocolFeatures;
        _rings = new VhostUserVring[2 * device.MaxQueuePairs];
        for (int i = 0; i < _rings.Length; i++)
        {
            _rings[i] = new VhostUserVring(i);
        }

        device.QueueBroken += OnQueueBroken;
    }

    /// <summary>Gets the device served.</summary>
    public NetDevice Device { get; }

    /// <summary>
    /// Gets the features offered by <c>GET_FEATURES</c>: the device's, plus <see cref="ProtocolFeaturesBit"/>,
    /// plus <see cref="LogAllFeatureBit"/> when <c>LOG_SHMFD</c> is offered.
    /// </summary>
    public ulong OfferedFeatures => (ulong)Device.OfferedFeatures | ProtocolFeaturesBit | ((_offeredProtocol & VhostUserProtocolFeatures.LogShmfd) != 0 ? LogAllFeatureBit : 0);

    /// <summary>Gets whether guest writes are being logged now: <see cref="LogAllFeatureBit"/> is set and a log was given (<c>SET_LOG_BASE</c>).</summary>
    public bool IsLogging
    {
        get
        {
            lock (_gate)
            {
                return IsLoggingLocked;
            }
        }
    }

    private bool IsLoggingLocked => (_acked & LogAllFeatureBit) != 0 && _log is not null;

    /// <summary>Gets the protocol features offered by <c>GET_PROTOCOL_FEATURES</c>.</summary>
    public VhostUserProtocolFeatures OfferedProtocolFeatures => _offeredProtocol;

    /// <summary>Gets the protocol features the front-end set in this session.</summary>
    public VhostUserProtocolFeatures ProtocolFeatures
    {
        get
        {
            lock (_gate)
            {
                return _protocol;
            }
        }
    }

    /// <summary>Gets the features the front-end acknowledged in this session (<c>SET_FEATURES</c>), or 0.</summary>
    public ulong AckedFeatures
    {
        get
        {
            lock (_gate)
            {
                return _acked;
            }
        }
    }

    /// <summary>Gets whether a session is being served.</summary>
    public bool IsServing
    {
        get
        {
            lock (_gate)
            {
                return _channel is not null;
            }
        }
    }

    /// <summary>
    /// Serves one connection until the front-end closes it, sends something invalid, or
    /// <paramref name="cancellationToken"/> is cancelled; then stops every ring, releases every
    /// mapping and fd of the session, and resets the device. The channel is the caller's (not disposed).
    /// </summary>
    /// <param name="channel">The connection.</param>
    /// <param name="cancellationToken">Ends the session (the socket is shut down).</param>
    /// <returns>How the session ended.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="channel"/> is null.</exception>
    /// <exception cref="InvalidOperationException">Another session is being served.</exception>
    /// <exception cref="ObjectDisposedException">The back-end was disposed.</exception>
    public VhostUserSessionResult Serve(VhostUserChannel channel, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channel);
        lock (_gate)
        {
            if (_disposed)
            {
                VhostUserThrowHelper.ThrowObjectDisposed(nameof(VhostUserNetBackend));
            }

            if (_channel is not null)
            {
                VhostUserThrowHelper.ThrowInvalidOperation("A session is already being served; one front-end at a time.");
            }

            _channel = channel;
            _messages = 0;
        }

        string name = Device.Name;
        Log.SessionStarted(_logger, name);
        VhostUserSessionResult result;
        using (cancellationToken.UnsafeRegister(static c => ((VhostUserChannel)c!).Shutdown(), channel))
        {
            result = RunSession(channel, cancellationToken);
        }

        lock (_gate)
        {
            EndSessionLocked();
            _channel = null;
        }

        Log.SessionEnded(_logger, name, result.End, result.Messages);
        return result;
    }

    /// <summary>
    /// Server mode: listens at <paramref name="path"/> and serves one front-end at a time, accepting
    /// the next when a session ends, until cancelled.
    /// </summary>
    /// <param name="path">The socket path.</param>
    /// <param name="cancellationToken">Ends the serving.</param>
    /// <exception cref="LinuxException">The socket could not be created, bound or accepted on.</exception>
    public void RunServer(string path, CancellationToken cancellationToken)
    {
        using var listener = new VhostUserListener(path);
        while (!cancellationToken.IsCancellationRequested)
        {
            VhostUserChannel channel;
            try
            {
                channel = listener.Accept(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            using (channel)
            {
                Serve(channel, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Client mode: connects to a front-end listening at <paramref name="path"/> (retrying with a
    /// backoff from 10 ms to <paramref name="maxDelay"/>), serves it, and reconnects when it goes
    /// away, until cancelled.
    /// </summary>
    /// <param name="path">The socket path.</param>
    /// <param name="maxDelay">The longest delay between two connection attempts.</param>
    /// <param name="cancellationToken">Ends the serving.</param>
    /// <exception cref="LinuxException">Connecting failed other than with <c>ENOENT</c>/<c>ECONNREFUSED</c>.</exception>
    public void RunClient(string path, TimeSpan maxDelay, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            VhostUserChannel channel;
            try
            {
                channel = VhostUserConnector.ConnectWithRetry(path, TimeSpan.FromMilliseconds(10), maxDelay, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            using (channel)
            {
                Serve(channel, cancellationToken);
            }
        }
    }

    /// <summary>Ends a session being served (its <see cref="Serve"/> returns), and stops watching kicks. Does not dispose the device.</summary>
    public void Dispose()
    {
        VhostUserChannel? channel;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            channel = _channel;
        }

        channel?.Shutdown();
        SpinWait.SpinUntil(() => !IsServing, 5000);
        Device.QueueBroken -= OnQueueBroken;
        lock (_gate)
        {
            _kickLoop?.Dispose();
            _kickLoop = null;
        }
    }

    private VhostUserSessionResult RunSession(VhostUserChannel channel, CancellationToken cancellationToken)
    {
        string name = Device.Name;
        try
        {
            while (true)
            {
                if (!channel.TryReceive(out VhostUserMessage message))
                {
                    return new VhostUserSessionResult(cancellationToken.IsCancellationRequested ? VhostUserSessionEnd.Cancelled : VhostUserSessionEnd.PeerClosed, _messages, null);
                }

                using (message)
                {
                    lock (_gate)
                    {
                        _messages++;
                        Handle(channel, message);
                    }
                }
            }
        }
        catch (VhostUserProtocolException e)
        {
            Log.ProtocolError(_logger, name, e.Message, e);
            return new VhostUserSessionResult(cancellationToken.IsCancellationRequested ? VhostUserSessionEnd.Cancelled : VhostUserSessionEnd.ProtocolError, _messages, e);
        }
        catch (LinuxException e)
        {
            Log.TransportError(_logger, name, e.Message, e);
            return new VhostUserSessionResult(cancellationToken.IsCancellationRequested ? VhostUserSessionEnd.Cancelled : VhostUserSessionEnd.TransportError, _messages, e);
        }
#pragma warning disable CA1031 // A failure while serving one front-end must not take the daemon and its other devices down.
        catch (Exception e) when (e is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            Log.InternalError(_logger, name, e);
            return new VhostUserSessionResult(VhostUserSessionEnd.ProtocolError, _messages, e);
        }
    }

    private void OnQueueBroken(object? sender, NetQueueFaultEventArgs e)
    {
        Log.QueueBroken(_logger, Device.Name, e.QueueIndex, e.Fault.ToString());
        EventFd? err;
        lock (_gate)
        {
            // The event runs on the thread pool, possibly after the session that broke the ring ended and a new one
            // set the ring up again with its own error eventfd: tell the front-end only while the ring's current
            // queue is the broken one.
            VhostUserVring? ring = (uint)e.QueueIndex < (uint)_rings.Length ? _rings[e.QueueIndex] : null;
            err = ring is { Queue.Fault: not VirtqueueFault.None } ? ring.Err : null;
            try
            {
                err?.Notify();
            }
            catch (ObjectDisposedException)
            {
                // The front-end replaced it meanwhile.
            }
            catch (LinuxException)
            {
                // Not an eventfd after all; nothing more to tell.
            }
        }
    }
}
