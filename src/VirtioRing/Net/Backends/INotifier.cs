namespace VirtioRing.Net.Backends;

/// <summary>
/// Something to signal: a kick or call (an in-process doorbell now, an eventfd in
/// <c>VirtioRing.Linux</c>), or a worker to wake. Signalling is cheap, never blocks, and may be
/// called from any thread; signals may be coalesced.
/// </summary>
public interface INotifier
{
    /// <summary>Signals.</summary>
    void Notify();
}
