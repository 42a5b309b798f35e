using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VirtioRing.Net.Offload;

/// <summary>
/// A validated super-frame and how it will be cut (<see cref="SoftwareSegmentation.TryPlan"/>): how many segments, how
/// long, so a caller can size its buffers before <see cref="SoftwareSegmentation"/> writes them. Bound to the frame it was
/// made from (same length; the offsets it holds are only checked against that length).
/// </summary>
[DebuggerDisplay("{Kind}: {SegmentCount} segments, header {HeaderLength}, payload {PayloadLength}")]
[StructLayout(LayoutKind.Auto)]
public readonly struct SegmentationPlan
{
    /// <summary>Gets the kind of segmentation.</summary>
    public SegmentationKind Kind { get; init; }

    /// <summary>Gets the length of the frame the plan was made for.</summary>
    public int FrameLength { get; init; }

    /// <summary>Gets the number of segments (TSO, USO) or fragments (UFO); at least 1.</summary>
    public int SegmentCount { get; init; }

    /// <summary>Gets the number of leading frame bytes copied into every segment: up to the transport payload (TSO, USO) or
    /// up to the end of the IP header (UFO).</summary>
    public int HeaderLength { get; init; }

    /// <summary>Gets the number of bytes after <see cref="HeaderLength"/> that are spread over the segments.</summary>
    public int PayloadLength { get; init; }

    /// <summary>Gets the payload bytes per segment but the last: <c>gso_size</c>, rounded down to a multiple of 8 for UFO.</summary>
    public int SegmentPayloadSize { get; init; }

    /// <summary>Gets the length of the longest segment (the first).</summary>
    public int MaxSegmentLength { get; init; }

    /// <summary>Gets the sum of all segment lengths.</summary>
    public long TotalLength { get; init; }

    /// <summary>Gets the IP version, 4 or 6.</summary>
    public int IPVersion { get; init; }

    internal int L3Offset { get; init; }

    internal int L4Offset { get; init; }

    internal int ExtraHeaderLength { get; init; }   // 8 for the IPv6 fragment header UFO inserts, else 0

    internal ushort FirstIPv4Id { get; init; }

    internal uint FirstSequence { get; init; }

    internal ulong AddressSum { get; init; }        // pseudo-header without the length (native order)

    internal ushort UdpChecksum { get; init; }      // UFO: the whole datagram's checksum

    internal uint FragmentId { get; init; }

    /// <summary>Gets the length of segment <paramref name="index"/>.</summary>
    internal int SegmentLength(int index)
    {
        int offset = index * SegmentPayloadSize;
        int chunk = PayloadLength - offset < SegmentPayloadSize ? PayloadLength - offset : SegmentPayloadSize;
        return HeaderLength + ExtraHeaderLength + chunk;
    }
}
