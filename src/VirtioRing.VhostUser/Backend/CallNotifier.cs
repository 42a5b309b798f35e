using System;
using System.Threading;
using VirtioRing.Linux;
using VirtioRing.Net.Backends;

namespace VirtioRing.VhostUser.Backend;

/// <summary>
/// The call notifier a queue is bound with: forwards to the ring's current call eventfd, which
/// <c>SET_VRING_CALL</c> may replace at any time without rebinding the queue. A failed write (the fd
/// was closed meanwhile, or the front-end passed something that is not an eventfd) is counted, never
/// thrown into the worker.
/// </summary>
internal sealed class CallNotifier : INotifier
{
    private EventFd? _target;
    private long _failures;

    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Swaps the target and returns the previous one (the caller disposes it).</summary>
    public EventFd? Exchange(EventFd? target) => Interlocked.Exchange(ref _target, target);

    public void Notify()
    {
        EventFd? target = Volatile.Read(ref _target);
        if (target is null)
        {
            return;
        }

        try
        {
            target.Notify();
        }
        catch (ObjectDisposedException)
        {
            Interlocked.Increment(ref _failures);   // replaced and closed under us: the new one gets the next call
        }
        catch (LinuxException)
        {
            Interlocked.Increment(ref _failures);
        }
    }
}
