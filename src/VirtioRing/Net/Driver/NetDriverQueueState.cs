using VirtioRing.Net.Backends;
using VirtioRing.Queues;

namespace VirtioRing.Net.Driver;

/// <summary>Per-queue state every driver queue has: the queue, its kick, its counters, its fault.</summary>
internal abstract unsafe class NetDriverQueueState(int index, IDriverQueue queue, INotifier? kick, byte* host, ulong guest, int bufferSize, int bufferCount)
{
    public readonly int Index = index;
    public readonly IDriverQueue Queue = queue;
    public readonly INotifier? Kick = kick;
    public readonly byte* Host = host;            // the queue's buffers, translated once at bind
    public readonly ulong Guest = guest;          // guest address of the same
    public readonly int BufferSize = bufferSize;
    public readonly int BufferCount = bufferCount;
    public NetDriverFault Fault;
    public ulong Packets;
    public ulong Bytes;
    public ulong Errors;
    public ulong Kicks;

    public NetDriverQueueCounters Counters => new(Packets, Bytes, Errors, Kicks);

    /// <summary>Publishes what was added and kicks the device when its suppression settings ask for it.</summary>
    public void PublishAndKick()
    {
        if (Queue.PublishAvailable() > 0 && Queue.ShouldNotifyDevice())
        {
            Kicks++;
            Kick?.Notify();
        }
    }

    /// <summary>Records the driver queue's own fault, when it has one.</summary>
    /// <returns><see langword="true"/> when the queue is (now) faulted.</returns>
    public bool CheckBroken()
    {
        if (Fault == NetDriverFault.None && Queue.IsBroken)
        {
            Fault = NetDriverFault.QueueBroken;
        }

        return Fault != NetDriverFault.None;
    }
}
