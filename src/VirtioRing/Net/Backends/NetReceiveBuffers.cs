using System;

namespace VirtioRing.Net.Backends;

/// <summary>
/// Receive buffers a host lends to an <see cref="INetDirectReader"/> for one frame: the writable
/// segments of the guest's receive chains, in order, <see cref="Capacity"/> bytes in all.
/// </summary>
/// <remarks>
/// The segments are guest memory: native memory that does not move while the reader runs, so a
/// reader may take their addresses (<c>Unsafe.AsPointer(ref MemoryMarshal.GetReference(segment))</c>)
/// for a vectored read. They are valid only during <see cref="INetDirectReader.Read"/>.
/// </remarks>
public readonly unsafe ref struct NetReceiveBuffers
{
    private readonly DirectSegments _segments;

    internal NetReceiveBuffers(DirectSegments segments, int headerSize)
    {
        _segments = segments;
        HeaderSize = headerSize;
    }

    /// <summary>Gets the size of the virtio-net header that precedes the frame (10, 12 or 20 bytes).</summary>
    public int HeaderSize { get; }

    /// <summary>Gets the total bytes of all segments.</summary>
    public int Capacity => _segments?.Capacity ?? 0;

    /// <summary>Gets the number of segments.</summary>
    public int SegmentCount => _segments?.Count ?? 0;

    /// <summary>Gets segment <paramref name="index"/>.</summary>
    /// <param name="index">0 to <see cref="SegmentCount"/> - 1.</param>
    /// <returns>The segment.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is out of range.</exception>
    public Span<byte> GetSegment(int index)
    {
        if (_segments is null || (uint)index >= (uint)_segments.Count)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(index));
        }

        return new Span<byte>((void*)_segments.Address[index], _segments.Length[index]);
    }
}

/// <summary>The segment list behind a <see cref="NetReceiveBuffers"/> (one per receive queue, reused).</summary>
internal sealed class DirectSegments
{
    /// <summary>The most segments lent for one frame: one less than the kernel's limit for one vectored call (UIO_MAXIOV, 1024), so a reader may add one vector of its own (a TAP's truncation probe).</summary>
    public const int MaxSegments = 1023;

    public readonly IntPtr[] Address = new IntPtr[MaxSegments];

    public readonly int[] Length = new int[MaxSegments];

    public int Count;

    public int Capacity;

    public void Clear()
    {
        Count = 0;
        Capacity = 0;
    }
}
