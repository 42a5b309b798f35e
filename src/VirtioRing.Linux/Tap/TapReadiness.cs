using System;
using System.Diagnostics;
using System.Threading;
using Tmds.Linux;
using VirtioRing.Linux.Interop;

namespace VirtioRing.Linux.Tap;

/// <summary>
/// The readiness thread of a <see cref="TapBackend"/>: one thread blocked in <c>epoll_wait</c> on every
/// queue descriptor, edge-triggered, that wakes the host's queue when the descriptor becomes readable
/// (frames arrived), writable again (after a write answered <c>EAGAIN</c> and the queue armed
/// <c>EPOLLOUT</c>), or failed (<c>EPOLLERR</c>/<c>EPOLLHUP</c>: the TAP was deleted; the reader then
/// sees the error and reports it). Nothing runs while nothing happens.
/// </summary>
/// <remarks>
/// Edge-triggered is right here because the worker reads each queue until <c>EAGAIN</c> (or its budget,
/// and then the engine polls again, or the host's buffer waiter wakes it): every arrival after that
/// raises a new edge. <c>EPOLL_CTL_MOD</c> re-evaluates readiness, so arming <c>EPOLLOUT</c> after an
/// <c>EAGAIN</c> reports at once a descriptor that became writable in between: no wake-up is lost.
/// </remarks>
[DebuggerDisplay("TAP readiness {_name}")]
internal sealed unsafe class TapReadiness : IDisposable
{
#if DEBUG
    private const int EventBatch = 2;   // small in Debug so tests see more ready queues than one wait returns
#else
    private const int EventBatch = 32;
#endif
    private const ulong StopToken = ulong.MaxValue;
    internal const uint InputEvents = 0x001 | 0x8000_0000;   // EPOLLIN | EPOLLET (EPOLLERR and EPOLLHUP are always reported)
    internal const uint OutputEvent = 0x004;                        // EPOLLOUT

    private readonly TapBackend _owner;
    private readonly string _name;
    private readonly SafeFileDescriptor _epoll;
    private readonly EventFd _stop;
    private readonly Thread _thread;
    private volatile bool _stopping;

    public TapReadiness(TapBackend owner, string name)
    {
        _owner = owner;
        _name = name;
        int ep = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (ep < 0)
        {
            LinuxThrowHelper.ThrowErrno("epoll_create1");
        }

        _epoll = new SafeFileDescriptor(ep, ownsHandle: true);
        try
        {
            _stop = new EventFd();
            using var stop = new FdRef(_stop.Handle);
            Control(LibC.EPOLL_CTL_ADD, stop.Value, (uint)LibC.EPOLLIN, StopToken);
        }
        catch
        {
            _stop?.Dispose();
            _epoll.Dispose();
            throw;
        }

        _thread = new Thread(Run) { IsBackground = true, Name = "TAP " + name + " readiness" };
    }

    public void Start() => _thread.Start();

    /// <summary>Watches a queue descriptor for input (and errors), edge-triggered.</summary>
    public void Add(TapQueue queue) => Control(LibC.EPOLL_CTL_ADD, queue.Fd, InputEvents, (ulong)queue.Index);

    /// <summary>Arms or disarms <c>EPOLLOUT</c> for a queue (from the thread transmitting on it).</summary>
    /// <returns><see langword="false"/> when <c>epoll_ctl</c> failed (the descriptor is gone: the next I/O reports it) or this instance was disposed.</returns>
    public bool SetOutput(TapQueue queue, bool armed) =>
        TryControl(LibC.EPOLL_CTL_MOD, queue.Fd, armed ? InputEvents | OutputEvent : InputEvents, (ulong)queue.Index);

    /// <summary>Stops watching a queue (it failed for good); nothing happens once this instance was disposed.</summary>
    public void Remove(TapQueue queue) => TryControl(LibC.EPOLL_CTL_DEL, queue.Fd, 0, 0);

    /// <summary>Stops the thread, joins it, and closes the epoll instance.</summary>
    public void Dispose()
    {
        if ((_thread.ThreadState & System.Threading.ThreadState.Unstarted) == 0)   // a flags value: Background | Unstarted before Start
        {
            _stopping = true;
            _stop.Notify();
            if (!ReferenceEquals(Thread.CurrentThread, _thread))
            {
                _thread.Join();
            }
        }

        _stop.Dispose();
        _epoll.Dispose();
    }

    private void Run()
    {
        epoll_event* events = stackalloc epoll_event[EventBatch];
        using var ep = new FdRef(_epoll);
        while (!_stopping)
        {
            int n = LibC.epoll_wait(ep.Value, events, EventBatch, -1);
            if (n < 0)
            {
                int errno = LibC.errno;
                if (errno == LibC.EINTR)
                {
                    continue;
                }

                // The epoll descriptor is ours and open until this thread ends: nothing else can fail here.
                Environment.FailFast($"epoll_wait on the readiness thread of TAP {_name} failed: errno {errno}");
            }

            for (int i = 0; i < n; i++)
            {
                ulong token = events[i].data.u64;
                if (token != StopToken)
                {
                    _owner.OnReady((int)token);
                }
            }
        }
    }

    private void Control(int op, int fd, uint events, ulong token)
    {
        if (!TryControl(op, fd, events, token))
        {
            LinuxThrowHelper.ThrowErrno("epoll_ctl", $"TAP {_name}, {(op == LibC.EPOLL_CTL_ADD ? "EPOLL_CTL_ADD" : "EPOLL_CTL_MOD")}");
        }
    }

    private bool TryControl(int op, int fd, uint events, ulong token)
    {
        epoll_event ev = default;
        ev.events = (int)events;
        ev.data.u64 = token;
        try
        {
            using var ep = new FdRef(_epoll);
            return LibC.epoll_ctl(ep.Value, op, fd, &ev) == 0;
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile (the backend was detached or disposed while a queue's thread still ran): nothing is watched any more.
            return false;
        }
    }
}
