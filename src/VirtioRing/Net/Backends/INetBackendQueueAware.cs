namespace VirtioRing.Net.Backends;

/// <summary>
/// A backend that wants to know how many of its queues are in use (a multiqueue TAP detaches the
/// queues nobody reads, so the kernel stops steering frames to them).
/// </summary>
public interface INetBackendQueueAware
{
    /// <summary>
    /// Called by the device with the number of backend queues its active pairs use
    /// (min(active pairs, <see cref="INetBackend.QueueCount"/>)): when it starts, and at every change of
    /// the active pair count (<c>VQ_PAIRS_SET</c>, <see cref="Engine.NetDevice.SetActivePairs"/>).
    /// Queues from <paramref name="count"/> on are not polled until a later call includes them.
    /// </summary>
    /// <param name="count">1 to <see cref="INetBackend.QueueCount"/>.</param>
    void SetActiveQueues(int count);
}
