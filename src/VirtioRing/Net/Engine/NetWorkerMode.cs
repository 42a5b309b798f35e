namespace VirtioRing.Net.Engine;

/// <summary>How a <see cref="NetDevice"/> runs its queue pairs.</summary>
public enum NetWorkerMode
{
    /// <summary>
    /// One thread per active queue pair that blocks on its <see cref="WorkerSignal"/> (fed by kicks
    /// and backend wake-ups) when there is nothing to do. The default.
    /// </summary>
    Blocking = 0,

    /// <summary>
    /// One thread per active queue pair that never blocks: lowest latency, one core per pair. It turns the transmit
    /// queue's kick requests off when it starts polling a queue (the driver need not kick a polled ring).
    /// </summary>
    BusyPoll,

    /// <summary>
    /// No threads: the caller drives each pair with <see cref="NetQueuePair.Poll"/> (one thread per pair at a time; one
    /// thread may drive many pairs). To block when a pair has nothing to do without missing a kick: call
    /// <see cref="NetQueuePair.PrepareToWait"/>, wait on <see cref="NetQueuePair.Signal"/> only if it returned
    /// <see langword="false"/>, then call <see cref="NetQueuePair.EndWait"/> and poll again.
    /// </summary>
    Manual,
}
