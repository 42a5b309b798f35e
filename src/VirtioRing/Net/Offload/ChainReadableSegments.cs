using System;
using System.Runtime.InteropServices;
using VirtioRing.Queues;

namespace VirtioRing.Net.Offload;

/// <summary>The device-readable segments of a popped chain as a gather list.</summary>
[StructLayout(LayoutKind.Auto)]
internal readonly struct ChainReadableSegments(DescriptorChain chain) : IReadOnlySegments
{
    private readonly DescriptorChain _chain = chain;

    public int Count => _chain.ReadableCount;

    public ReadOnlySpan<byte> Get(int index) => _chain.GetSpan(index);
}
