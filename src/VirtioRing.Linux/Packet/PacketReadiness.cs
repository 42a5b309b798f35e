using System;
using System.Diagnostics;
using System.Threading;
using Tmds.Linux;
using VirtioRing.Linux.Interop;

namespace VirtioRing.Linux.Packet;

/// <summary>
/// The readiness thread of a <see cref="PacketSocketBackend"/>: one <c>epoll</c> instance over the queue sockets
/// (edge-triggered <c>EPOLLIN</c>, so each block the kernel retires wakes the queue once; <c>EPOLLOUT</c> only while a
/// send waits for room), plus an eventfd to stop it or make it recompute its timeout. It wakes a queue through the
/// host (<c>INetBackendHost.Wake</c>) and otherwise sleeps: nothing runs while the link is idle.
/// </summary>
/// <remarks>
/// <para>Edge-triggered readiness loses nothing here: the queue's worker reads the ring until it finds a block still
/// owned by the kernel, and a block retired after that look raises a new edge (the kernel's <c>sk_data_ready</c>).</para>
/// <para><c>EPOLLERR</c> carries the kernel's notice that the interface went down or away: the thread reads the
/// socket error, and when the socket is no longer bound (the interface was deleted) it records the queue's fault and
/// reports it to the host (<c>INetBackendHost.ReportFault</c>, once per queue, from this thread).</para>
/// </remarks>
[DebuggerDisplay("epoll {_epoll}, {_queues.Length} socket(s)")]
internal sealed class PacketReadiness : IDisposable
{
    private const ulong StopToken = ulong.MaxValue;
    private const int NoBufsRetryMilliseconds = 1;

    /// <summary>When to look again whether a socket whose link went down was unbound (its interface deleted).</summary>
    private static readonly int[] RecheckDelays = [10, 50, 250];

    private readonly PacketSocketBackend _owner;
    private readonly PacketQueue[] _queues;
    private readonly SafeFileDescriptor _epoll;
    private readonly EventFd _signal;
    private readonly Thread _thread;
    private volatile bool _stopping;

    public PacketReadiness(PacketSocketBackend owner, PacketQueue[] queues, string name)
    {
        _owner = owner;
        _queues = queues;
        int ep = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (ep < 0)
        {
            LinuxThrowHelper.ThrowErrno("epoll_create1");
        }

        _epoll = new SafeFileDescriptor(ep, ownsHandle: true);
        try
        {
            _signal = new EventFd();
            Control(LibC.EPOLL_CTL_ADD, _signal.Handle, LibC.EPOLLIN, StopToken);
            foreach (PacketQueue q in queues)
            {
                Control(LibC.EPOLL_CTL_ADD, q.Socket, LibC.EPOLLIN | LibC.EPOLLET, (ulong)q.Index);
            }
        }
        catch
        {
            _signal?.Dispose();
            _epoll.Dispose();
            throw;
        }

        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Gets the thread (tests check it ends).</summary>
    internal Thread Thread => _thread;

    /// <summary>A send answered <c>EAGAIN</c>: watch <c>EPOLLOUT</c> until the socket has room, then wake the queue.</summary>
    public void WaitWritable(PacketQueue q)
    {
        lock (q.InterestGate)
        {
            if (q.WantWritable || q.Socket.IsClosed)
            {
                return;
            }

            try
            {
                // MOD re-evaluates readiness: when room appeared since the EAGAIN, the event is queued at once.
                Control(LibC.EPOLL_CTL_MOD, q.Socket, LibC.EPOLLIN | LibC.EPOLLOUT | LibC.EPOLLET, (ulong)q.Index);
                q.WantWritable = true;
                return;
            }
            catch (Exception e) when (e is LinuxException or ObjectDisposedException)
            {
                // Not watchable now (ENOMEM, or the backend is being disposed): retry on the timer instead; a send
                // must not throw.
            }
        }

        RetryLater(q);
    }

    /// <summary>
    /// A send answered <c>ENOBUFS</c> (the device's queue is full): wake the queue after a millisecond. No socket
    /// event announces room in a device queue, and waking at once would spin while it stays full.
    /// </summary>
    public void RetryLater(PacketQueue q)
    {
        lock (q.InterestGate)
        {
            if (q.RetryAtTicks != 0)
            {
                return;
            }

            q.RetryAtTicks = Environment.TickCount64 + NoBufsRetryMilliseconds;
        }

        try
        {
            _signal.Notify();   // recompute the wait's timeout
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile: nobody waits for the retry any more.
        }
    }

    /// <summary>Stops the thread and waits for it, then closes the epoll instance and the eventfd (the sockets stay open).</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _signal.Notify();
        if (!ReferenceEquals(Thread.CurrentThread, _thread))
        {
            _thread.Join();
        }

        _epoll.Dispose();
        _signal.Dispose();
    }

    private unsafe void Loop()
    {
        const int Batch = 16;
        epoll_event* events = stackalloc epoll_event[Batch];
        try
        {
            while (!_stopping)
            {
                int n;
                using (var ep = new FdRef(_epoll))
                {
                    n = LibC.epoll_wait(ep.Value, events, Batch, NextTimeout());
                }

                if (n < 0)
                {
                    int errno = LibC.errno;
                    if (errno == LibC.EINTR)
                    {
                        continue;
                    }

                    LinuxThrowHelper.ThrowErrno("epoll_wait", errno);
                }

                for (int i = 0; i < n; i++)
                {
                    ulong token = events[i].data.u64;
                    if (token == StopToken)
                    {
                        EventFd.TryConsume(_signal.Handle, out _);
                        continue;
                    }

                    Handle(_queues[(int)token], events[i].events);
                }

                RunDueTimers();
            }
        }
        catch (Exception e)
        {
            // The loop cannot go on (an epoll call failed: a bug, not a network event). Stop every queue with the
            // reason rather than leave them waiting for wake-ups that will never come, or take the process down.
            if (!_stopping)
            {
                foreach (PacketQueue q in _queues)
                {
                    q.TrySetFault(e);
                    _owner.ReportFaultOnce(q);
                }
            }
        }
    }

    private void Handle(PacketQueue q, int events)
    {
        if ((events & (LibC.EPOLLERR | LibC.EPOLLHUP)) != 0)
        {
            int error = q.TakeSocketError();   // clears it (ENETDOWN when the interface went down or away)
            if (!CheckBound(q, error))
            {
                // Still bound: the link went down, or it is being deleted and the kernel has not unbound the socket
                // yet (deleting an interface that is up first takes it down, and only that step raises the error).
                // Look again shortly: deletion unbinds within the same operation.
                lock (q.InterestGate)
                {
                    q.RecheckStep = 0;
                    q.RecheckAtTicks = Environment.TickCount64 + RecheckDelays[0];
                }
            }

            _owner.WakeQueue(q.Index);   // the worker reports the fault, or retries what a link-down refused
        }

        if ((events & LibC.EPOLLIN) != 0)
        {
            _owner.WakeQueue(q.Index);
        }

        if ((events & LibC.EPOLLOUT) != 0)
        {
            bool wake;
            lock (q.InterestGate)
            {
                wake = q.WantWritable;
                if (wake && !q.Socket.IsClosed)
                {
                    q.WantWritable = false;
                    Control(LibC.EPOLL_CTL_MOD, q.Socket, LibC.EPOLLIN | LibC.EPOLLET, (ulong)q.Index);
                }
            }

            if (wake)
            {
                _owner.WakeQueue(q.Index);
            }
        }
    }

    /// <summary>Whether the socket lost its binding (the interface is gone); records the queue's fault when it did.</summary>
    private bool CheckBound(PacketQueue q, int error)
    {
        if (q.BoundInterfaceIndex() == _owner.InterfaceIndex)
        {
            return false;
        }

        q.TrySetFault(new LinuxException("AF_PACKET socket", error != 0 ? error : LibC.ENODEV,
            $"interface \"{_owner.InterfaceName}\" (index {_owner.InterfaceIndex}) was deleted or left the namespace; backend queue {q.Index} stops"));

        // Reported from here, not left to the queue's worker: the engine may never poll this queue again (a ring
        // folded onto an active queue whose own fault was reported first stops being read).
        _owner.ReportFaultOnce(q);
        return true;
    }

    /// <summary>The wait's timeout: until the earliest timer (an <c>ENOBUFS</c> retry, a link-down re-check), or none.</summary>
    private int NextTimeout()
    {
        long earliest = long.MaxValue;
        foreach (PacketQueue q in _queues)
        {
            lock (q.InterestGate)
            {
                if (q.RetryAtTicks != 0 && q.RetryAtTicks < earliest)
                {
                    earliest = q.RetryAtTicks;
                }

                if (q.RecheckAtTicks != 0 && q.RecheckAtTicks < earliest)
                {
                    earliest = q.RecheckAtTicks;
                }
            }
        }

        return earliest == long.MaxValue ? -1 : (int)Math.Clamp(earliest - Environment.TickCount64, 0, int.MaxValue);
    }

    private void RunDueTimers()
    {
        long now = Environment.TickCount64;
        foreach (PacketQueue q in _queues)
        {
            bool retry;
            bool recheck;
            lock (q.InterestGate)
            {
                retry = q.RetryAtTicks != 0 && q.RetryAtTicks <= now;
                if (retry)
                {
                    q.RetryAtTicks = 0;
                }

                recheck = q.RecheckAtTicks != 0 && q.RecheckAtTicks <= now;
                if (recheck)
                {
                    q.RecheckStep++;
                    q.RecheckAtTicks = q.RecheckStep < RecheckDelays.Length ? now + RecheckDelays[q.RecheckStep] : 0;
                }
            }

            if (recheck && q.Fault is null && CheckBound(q, LibC.ENETDOWN))
            {
                lock (q.InterestGate)
                {
                    q.RecheckAtTicks = 0;
                }

                retry = true;   // wake the queue: its worker reports the fault
            }

            if (retry)
            {
                _owner.WakeQueue(q.Index);
            }
        }
    }

    private unsafe void Control(int op, System.Runtime.InteropServices.SafeHandle fd, int events, ulong token)
    {
        epoll_event ev = default;
        ev.events = events;
        ev.data.u64 = token;
        using var ep = new FdRef(_epoll);
        using var target = new FdRef(fd);
        if (LibC.epoll_ctl(ep.Value, op, target.Value, &ev) < 0)
        {
            LinuxThrowHelper.ThrowErrno("epoll_ctl", op == LibC.EPOLL_CTL_ADD ? "EPOLL_CTL_ADD" : "EPOLL_CTL_MOD");
        }
    }
}
