namespace VirtioRing.Net.Engine;

/// <summary>
/// The live counters of one virtqueue: plain fields, incremented by the one thread that owns the
/// queue at the time (the pair's worker for a transmit queue, the holder of the receive queue's
/// lock for a receive queue). Readers (snapshots, metrics) may see a value a moment old.
/// </summary>
internal sealed class QueueCounterCells
{
    public long Packets;
    public long Bytes;
    public long NoBuffer;
    public long Filtered;
    public long BadHeader;
    public long BrokenQueue;
    public long BackendDropped;
    public long BadFrame;
    public long Busy;

    public NetQueueCounters Snapshot() =>
        new(Packets, Bytes, NoBuffer, Filtered, BadHeader, BrokenQueue, BackendDropped, BadFrame, Busy);
}
