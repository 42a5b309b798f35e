using System.Diagnostics;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Tap;

/// <summary>A queue's <see cref="INetDirectReader"/> (one per queue, made once: no allocation per call).</summary>
[DebuggerDisplay("TAP direct reader, queue {_queue.Index}")]
internal sealed class TapDirectReader(TapBackend owner, TapQueue queue) : INetDirectReader
{
    private readonly TapQueue _queue = queue;

    public int Read(in NetReceiveBuffers buffers) => owner.ReadDirect(_queue, buffers);
}
