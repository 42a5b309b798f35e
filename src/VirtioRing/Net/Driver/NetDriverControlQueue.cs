using VirtioRing.Net.Backends;
using VirtioRing.Queues;

namespace VirtioRing.Net.Driver;

/// <summary>The control queue's buffer: the command at offset 0, the response at <see cref="ResponseOffset"/>.</summary>
internal sealed unsafe class NetDriverControlQueue(int index, IDriverQueue queue, INotifier? kick, byte* host, ulong guest, int bufferSize, int responseOffset)
    : NetDriverQueueState(index, queue, kick, host, guest, bufferSize, 1)
{
    public readonly int ResponseOffset = responseOffset;
    public readonly BufferSegment[] Segments = new BufferSegment[2];
    public ulong NextToken = 1;
}
