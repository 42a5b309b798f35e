namespace VirtioRing.Net.Engine;

/// <summary>How a <see cref="NetDevice"/> runs its queue pairs.</summary>
public enum NetWorkerMode
{
    /// <summary>
    /// One thread per active queue pair that blocks on its <see cref="WorkerSignal"/> (fed by kicks
    /// and backend wake-ups) when there is nothing to do. The default.
    /// </summary>
    Blocking = 0,

    /// <summary>One thread per active queue pair that never blocks: lowest latency, one core per pair.</summary>
    BusyPoll,

    /// <summary>No threads: the caller drives each pair with <see cref="NetQueuePair.Poll"/>.</summary>
    Manual,
}
