using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;

namespace VirtioRing.Linux;

/// <summary>
/// A <see cref="WorkerSignal"/> that blocks in <c>epoll_wait</c>: on its own <see cref="EventFd"/>
/// (what <see cref="Notify"/> writes to) and on any number of added descriptors — the queue pair's
/// kick eventfds, a backend's TAP or packet socket — so one thread sleeps on every source of work
/// of a queue pair. Use one per pair through <see cref="EpollWorkerSignalFactory"/>.
/// </summary>
/// <remarks>
/// <para>Contract with <see cref="WorkerSignal"/>: <see cref="Notify"/> makes the current or next
/// <see cref="Wait"/> return <see langword="true"/> (the eventfd counter stays non-zero until a
/// <see cref="Wait"/> consumes it, so no wake-up is lost; many notifies coalesce into one). An added
/// descriptor that is readable makes <see cref="Wait"/> return <see langword="true"/> too.</para>
/// <para>Descriptors are watched level-triggered for <c>EPOLLIN</c>. Eventfds added with
/// <c>consumeEventFd</c> (kick fds) have their counter read and reset by <see cref="Wait"/>, so they
/// wake once per burst of kicks. Other descriptors are left as they are: <see cref="Wait"/> returns at
/// once while they stay readable, so the worker must drain them (read until <c>EAGAIN</c>) — or
/// <see cref="Remove"/> them while it cannot — or it will not sleep.</para>
/// <para>Only one thread calls <see cref="Wait"/> at a time (the pair's worker); <see cref="Notify"/>,
/// <see cref="Add(SafeHandle, bool, INotifier)"/> and <see cref="Remove"/> may be called from any thread, also during a wait
/// (<c>epoll</c> allows it; a descriptor added during a wait is watched by that wait).</para>
/// </remarks>
[DebuggerDisplay("epoll {Handle}, {Count} added fd(s)")]
public sealed class EpollWorkerSignal : WorkerSignal, IDisposable
{
#if DEBUG
    private const int EventBatch = 2;   // small in Debug so tests hit more ready fds than one wait returns
#else
    private const int EventBatch = 16;
#endif
    private const ulong WakeToken = 0;

    private readonly EventFd _wake;
    private readonly object _gate = new();
    private Registration[] _registrations = [];   // copy-on-write; Wait reads a snapshot without locking
    private ulong _nextToken = 1;
    private bool _disposed;

    /// <summary>Creates the signal: an epoll instance (<c>EPOLL_CLOEXEC</c>) watching its own eventfd.</summary>
    /// <exception cref="LinuxException"><c>epoll_create1</c>, <c>eventfd</c> or <c>epoll_ctl</c> failed.</exception>
    public EpollWorkerSignal()
    {
        int ep = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (ep < 0)
        {
            LinuxThrowHelper.ThrowErrno("epoll_create1");
        }

        Handle = new SafeFileDescriptor(ep, ownsHandle: true);
        try
        {
            _wake = new EventFd();
            Control(LibC.EPOLL_CTL_ADD, _wake.Handle, WakeToken);
        }
        catch
        {
            _wake?.Dispose();
            Handle.Dispose();
            throw;
        }
    }

    /// <summary>Gets the epoll descriptor (readable when a <see cref="Wait"/> would return at once; it can be nested in another epoll).</summary>
    public SafeFileDescriptor Handle { get; }

    /// <summary>Gets the number of added descriptors (its own eventfd not counted).</summary>
    public int Count => Volatile.Read(ref _registrations).Length;

    /// <summary>Gets how many times a wait was woken by the own eventfd (diagnostics).</summary>
    public long NotifyWakeups { get; private set; }

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">The signal was disposed.</exception>
    public override void Notify() => _wake.Notify();

    /// <summary>Watches an eventfd (a kick) and consumes its counter whenever it wakes a <see cref="Wait"/>.</summary>
    /// <param name="eventFd">The eventfd; a reference is held on its handle until it is removed or the signal is disposed.</param>
    /// <exception cref="ArgumentNullException"><paramref name="eventFd"/> is null.</exception>
    /// <exception cref="InvalidOperationException">It is already added.</exception>
    /// <exception cref="LinuxException"><c>epoll_ctl</c> failed.</exception>
    /// <exception cref="ObjectDisposedException">The signal or the eventfd was disposed.</exception>
    public void Add(EventFd eventFd)
    {
        ArgumentNullException.ThrowIfNull(eventFd);
        Add(eventFd.Handle, consumeEventFd: true, onReadable: null);
    }

    /// <summary>
    /// Watches an eventfd (a kick), consumes its counter whenever it wakes a <see cref="Wait"/>, and then
    /// calls <paramref name="onReadable"/> on the waiting thread (for a vhost-user kick fd: a notifier
    /// that calls <see cref="NetDevice.Kick"/> for its queue).
    /// </summary>
    /// <param name="eventFd">The eventfd; a reference is held on its handle until it is removed or the signal is disposed.</param>
    /// <param name="onReadable">Called from <see cref="Wait"/> after the counter was consumed; it must not block or call <see cref="Wait"/>.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="InvalidOperationException">It is already added.</exception>
    /// <exception cref="LinuxException"><c>epoll_ctl</c> failed.</exception>
    /// <exception cref="ObjectDisposedException">The signal or the eventfd was disposed.</exception>
    public void Add(EventFd eventFd, INotifier onReadable)
    {
        ArgumentNullException.ThrowIfNull(eventFd);
        ArgumentNullException.ThrowIfNull(onReadable);
        Add(eventFd.Handle, consumeEventFd: true, onReadable);
    }

    /// <summary>Watches a descriptor for readability (<c>EPOLLIN</c>, level-triggered).</summary>
    /// <param name="fd">The descriptor. A reference is held on the handle while it is added, so its number is not closed and reused under the watch.</param>
    /// <param name="consumeEventFd">Whether <paramref name="fd"/> is an eventfd whose counter <see cref="Wait"/> should read and reset when it fires (kick fds); otherwise the caller drains it.</param>
    /// <param name="onReadable">Called from <see cref="Wait"/> (after the consume, if any) each time the descriptor is reported readable; <see langword="null"/> for none. It must not block or call <see cref="Wait"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="fd"/> is null.</exception>
    /// <exception cref="InvalidOperationException">It is already added.</exception>
    /// <exception cref="LinuxException"><c>epoll_ctl</c> failed (<c>EPERM</c>: a regular file, which epoll cannot watch).</exception>
    /// <exception cref="ObjectDisposedException">The signal or <paramref name="fd"/> was disposed.</exception>
    public void Add(SafeHandle fd, bool consumeEventFd = false, INotifier? onReadable = null)
    {
        ArgumentNullException.ThrowIfNull(fd);
        lock (_gate)
        {
            ThrowIfDisposed();
            Registration[] current = _registrations;
            foreach (Registration r in current)
            {
                if (ReferenceEquals(r.Handle, fd))
                {
                    LinuxThrowHelper.ThrowInvalidOperation("The descriptor is already added.");
                }
            }

            bool added = false;
            fd.DangerousAddRef(ref added);
            try
            {
                ulong token = _nextToken++;
                Control(LibC.EPOLL_CTL_ADD, fd, token);
                var next = new Registration[current.Length + 1];
                Array.Copy(current, next, current.Length);
                next[current.Length] = new Registration(fd, token, consumeEventFd, onReadable);
                Volatile.Write(ref _registrations, next);
            }
            catch
            {
                fd.DangerousRelease();
                throw;
            }
        }
    }

    /// <summary>Stops watching a descriptor and releases the reference held on it.</summary>
    /// <param name="fd">A handle passed to <see cref="Add(SafeHandle, bool, INotifier)"/> (or an eventfd's <see cref="EventFd.Handle"/>).</param>
    /// <returns><see langword="false"/> when it was not added.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="fd"/> is null.</exception>
    /// <exception cref="LinuxException"><c>epoll_ctl</c> failed.</exception>
    /// <exception cref="ObjectDisposedException">The signal was disposed.</exception>
    public bool Remove(SafeHandle fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        lock (_gate)
        {
            ThrowIfDisposed();
            Registration[] current = _registrations;
            int at = -1;
            for (int i = 0; i < current.Length; i++)
            {
                if (ReferenceEquals(current[i].Handle, fd))
                {
                    at = i;
                    break;
                }
            }

            if (at < 0)
            {
                return false;
            }

            try
            {
                Control(LibC.EPOLL_CTL_DEL, fd, current[at].Token);
            }
            finally
            {
                var next = new Registration[current.Length - 1];
                Array.Copy(current, 0, next, 0, at);
                Array.Copy(current, at + 1, next, at, current.Length - at - 1);
                Volatile.Write(ref _registrations, next);
                fd.DangerousRelease();
            }

            return true;
        }
    }

    /// <summary>
    /// Blocks in <c>epoll_wait</c> until the own eventfd or an added descriptor is readable, or the
    /// timeout passes. Consumes the own eventfd's counter and those of eventfds added for consumption.
    /// Allocates nothing.
    /// </summary>
    /// <param name="millisecondsTimeout">The longest wait, or -1 for no limit.</param>
    /// <returns><see langword="true"/> when something was readable; <see langword="false"/> on timeout.</returns>
    /// <exception cref="ObjectDisposedException">The signal was disposed.</exception>
    /// <exception cref="LinuxException"><c>epoll_wait</c> failed other than with <c>EINTR</c>.</exception>
    public override unsafe bool Wait(int millisecondsTimeout)
    {
        long deadline = millisecondsTimeout < 0 ? long.MaxValue : Environment.TickCount64 + millisecondsTimeout;
        epoll_event* events = stackalloc epoll_event[EventBatch];
        int n;
        while (true)
        {
            int wait = millisecondsTimeout < 0 ? -1 : (int)Math.Max(0, deadline - Environment.TickCount64);
            using (var ep = new FdRef(Handle))
            {
                n = LibC.epoll_wait(ep.Value, events, EventBatch, wait);
            }

            if (n >= 0)
            {
                break;
            }

            int errno = LibC.errno;
            if (errno != LibC.EINTR)
            {
                LinuxThrowHelper.ThrowErrno("epoll_wait", errno);
            }
        }

        if (n == 0)
        {
            return false;
        }

        Registration[] registrations = Volatile.Read(ref _registrations);
        for (int i = 0; i < n; i++)
        {
            ulong token = events[i].data.u64;
            if (token == WakeToken)
            {
                NotifyWakeups++;
                EventFd.TryConsume(_wake.Handle, out _);
                continue;
            }

            foreach (Registration r in registrations)
            {
                if (r.Token == token)
                {
                    if (r.ConsumeEventFd)
                    {
                        try
                        {
                            EventFd.TryConsume(r.Handle, out _);
                        }
                        catch (ObjectDisposedException)
                        {
                            break;   // removed and closed after epoll_wait reported it: nothing to consume or notify
                        }
                    }

                    r.OnReadable?.Notify();

                    break;
                }
            }

            // A token not in the snapshot was removed after epoll_wait reported it: still a wake-up.
        }

        return true;
    }

    /// <summary>
    /// Stops watching everything, releases the added handles, and closes the epoll instance and the own
    /// eventfd. Call it when no thread waits any more (after the device is disposed): a thread blocked
    /// in <see cref="Wait"/> holds the epoll fd open and is not woken by this.
    /// </summary>
    public void Dispose()
    {
        Registration[] current;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            current = _registrations;
            _registrations = [];
        }

        // Closing the epoll fd ends every watch; the added handles only need their reference back.
        Handle.Dispose();
        _wake.Dispose();
        foreach (Registration r in current)
        {
            r.Handle.DangerousRelease();
        }
    }

    private unsafe void Control(int op, SafeHandle fd, ulong token)
    {
        epoll_event ev = default;
        ev.events = LibC.EPOLLIN;
        ev.data.u64 = token;
        using var ep = new FdRef(Handle);
        using var target = new FdRef(fd);
        if (LibC.epoll_ctl(ep.Value, op, target.Value, &ev) < 0)
        {
            LinuxThrowHelper.ThrowErrno("epoll_ctl", op == LibC.EPOLL_CTL_ADD ? "EPOLL_CTL_ADD" : "EPOLL_CTL_DEL");
        }
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            LinuxThrowHelper.ThrowObjectDisposed(nameof(EpollWorkerSignal));
        }
    }

    private sealed class Registration(SafeHandle handle, ulong token, bool consumeEventFd, INotifier? onReadable)
    {
        public INotifier? OnReadable { get; } = onReadable;

        public SafeHandle Handle { get; } = handle;

        public ulong Token { get; } = token;

        public bool ConsumeEventFd { get; } = consumeEventFd;
    }
}
