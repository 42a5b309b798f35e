using System;
using System.Diagnostics;
using VirtioRing.Net.Backends;
using VirtioRing.Queues;

namespace VirtioRing.Net.Driver;

/// <summary>
/// A transmit queue's buffers: <see cref="NetDriverQueueState.BufferCount"/> slots of
/// <see cref="NetDriverQueueState.BufferSize"/> bytes, a free stack, and per-slot links so a frame
/// spanning several slots is one chain whose token is its first slot.
/// </summary>
internal sealed unsafe class NetDriverTransmitQueue : NetDriverQueueState
{
    private readonly int[] _free;
    private readonly int[] _next;
    private int _freeCount;

    public NetDriverTransmitQueue(int index, IDriverQueue queue, INotifier? kick, byte* host, ulong guest, int bufferSize, int bufferCount)
        : base(index, queue, kick, host, guest, bufferSize, bufferCount)
    {
        _free = new int[bufferCount];
        _next = new int[bufferCount];
        for (int i = 0; i < bufferCount; i++)
        {
            _free[i] = bufferCount - 1 - i;   // slot 0 on top
            _next[i] = -1;
        }

        _freeCount = bufferCount;
        Segments = new BufferSegment[Math.Min(bufferCount + 1, queue.Size)];
    }

    public readonly BufferSegment[] Segments;

    public int FreeBuffers => _freeCount;

    public int Take()
    {
        Debug.Assert(_freeCount > 0, "no free transmit slot");
        int s = _free[--_freeCount];
        _next[s] = -1;
        return s;
    }

    public void Link(int from, int to) => _next[from] = to;

    /// <summary>Gives a chain of slots (from its first slot) back to the free stack.</summary>
    public void Release(int first)
    {
        int s = first;
        int guard = BufferCount;
        while (s >= 0 && guard-- > 0)
        {
            int n = _next[s];
            _next[s] = -1;
            _free[_freeCount++] = s;
            s = n;
        }
    }

    /// <summary>Reclaims every completed chain the device returned.</summary>
    /// <returns>The number of chains reclaimed.</returns>
    public int Reclaim()
    {
        int n = 0;
        while (Queue.TryReclaimUsed(out UsedBuffer used) == PopStatus.Popped)
        {
            // The token is a slot number we gave; the queue validated it is an outstanding chain's token.
            Release((int)used.Token);
            n++;
        }

        CheckBroken();
        return n;
    }
}
