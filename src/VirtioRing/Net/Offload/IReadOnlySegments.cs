using System;

namespace VirtioRing.Net.Offload;

/// <summary>A gather list: the pieces of one frame, in order. Implemented by structs so generic callers pay no dispatch.</summary>
internal interface IReadOnlySegments
{
    /// <summary>Gets the number of pieces.</summary>
    int Count { get; }

    /// <summary>Gets one piece.</summary>
    ReadOnlySpan<byte> Get(int index);
}
