using VirtioRing.Net.Backends;

namespace VirtioRing.Net.Engine;

/// <summary>
/// What a queue pair's worker blocks on: kicks of the pair's queues and backend wake-ups
/// (<see cref="INetBackendHost.Wake"/>) signal it, the worker waits on it when it has nothing to do.
/// Pluggable through <see cref="NetDeviceOptions.SignalFactory"/>: the in-process default is a
/// <see cref="Doorbell"/>; <c>VirtioRing.Linux</c> can block in <c>epoll</c> on the pair's kick
/// eventfds and the backend's fds instead.
/// </summary>
/// <remarks>
/// Contract: a <see cref="Notify"/> that happens before or during <see cref="Wait"/> makes that
/// (or the next) <see cref="Wait"/> return; signals may be coalesced. After <see cref="Wait"/>
/// returns, the worker looks at every source of work again before waiting again, so a signal is
/// never needed twice.
/// </remarks>
public abstract class WorkerSignal : INotifier
{
    /// <summary>Signals the worker (cheap, never blocks, any thread).</summary>
    public abstract void Notify();

    /// <summary>Blocks until signalled (returns at once when a signal is pending) or until the timeout passes, and consumes the signal.</summary>
    /// <param name="millisecondsTimeout">The longest wait, or -1 for no limit.</param>
    /// <returns><see langword="true"/> when a signal was consumed; <see langword="false"/> on timeout.</returns>
    public abstract bool Wait(int millisecondsTimeout);
}
