using System;
using VirtioRing.Net.Backends;
using VirtioRing.Queues;

namespace VirtioRing.Net.Driver;

/// <summary>
/// A receive queue's buffers: <see cref="NetDriverQueueState.BufferCount"/> chains of one
/// device-writable buffer each (token = buffer number), and the buffers of the frame being collected
/// (its <c>num_buffers</c> used elements, which may not all be visible yet).
/// </summary>
internal sealed unsafe class NetDriverReceiveQueue : NetDriverQueueState
{
    public NetDriverReceiveQueue(int index, IDriverQueue queue, INotifier? kick, byte* host, ulong guest, int bufferSize, int bufferCount)
        : base(index, queue, kick, host, guest, bufferSize, bufferCount)
    {
        PendingBuffers = new int[bufferCount];
        PendingLengths = new uint[bufferCount];
        PublishThreshold = Math.Max(1, Math.Min(32, bufferCount / 4));
    }

    /// <summary>Reposted buffers are published once this many wait (or when the queue runs empty, or a batch ends).</summary>
    public readonly int PublishThreshold;
    public int Unpublished;           // buffers reposted and not yet published

    /// <summary>Publishes reposted buffers (one index store, one kick decision with its full barrier).</summary>
    public void PublishReposted()
    {
        if (Unpublished != 0)
        {
            Unpublished = 0;
            PublishAndKick();
        }
    }

    public readonly int[] PendingBuffers;
    public readonly uint[] PendingLengths;
    public int PendingCount;          // buffers of the current frame reclaimed so far
    public int PendingExpected;       // num_buffers of the current frame (0: no frame started)
    public VirtioNetHeader PendingHeader;

    /// <summary>Posts buffer <paramref name="buffer"/> as a one-segment writable chain (not yet published).</summary>
    /// <returns><see langword="false"/> when the ring had no room (it always has: one buffer per ring slot at most).</returns>
    public bool Post(int buffer)
    {
        _single[0] = BufferSegment.Writable(new Memory.GuestAddress(Guest + ((ulong)buffer * (ulong)BufferSize)), (uint)BufferSize);
        return Queue.TryAddChain(_single, (ulong)buffer);
    }

    private readonly BufferSegment[] _single = new BufferSegment[1];
}
