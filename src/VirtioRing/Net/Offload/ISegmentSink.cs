using System;

namespace VirtioRing.Net.Offload;

/// <summary>
/// Where <see cref="SoftwareSegmentation"/> writes segments: the sink hands out one buffer per segment (a TAP write
/// buffer, a peer guest's receive chain, a slot in a batch) and is told when the segment is complete. Implement it on a
/// struct and pass it by reference for a call without allocation or interface dispatch.
/// </summary>
public interface ISegmentSink
{
    /// <summary>Gets the buffer for the next segment.</summary>
    /// <param name="index">The segment's index, from 0.</param>
    /// <param name="length">The segment's exact length in bytes.</param>
    /// <returns>A buffer of at least <paramref name="length"/> bytes; a shorter one (empty, say) stops segmentation with
    /// <see cref="OffloadError.OutputTooSmall"/>.</returns>
    Span<byte> GetBuffer(int index, int length);

    /// <summary>Reports that the segment was written to the first <paramref name="length"/> bytes of the buffer last returned.</summary>
    /// <param name="index">The segment's index.</param>
    /// <param name="length">Its length (as passed to <see cref="GetBuffer"/>).</param>
    void Complete(int index, int length);
}
