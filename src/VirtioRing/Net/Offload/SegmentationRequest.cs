using System;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VirtioRing.Net.Offload;

/// <summary>
/// The segmentation fields of a transmitted virtio-net header (virtio 1.2 §5.1.6.2): <c>gso_type</c>, <c>gso_size</c>,
/// <c>hdr_len</c>; and what the device knows about them.
/// </summary>
[DebuggerDisplay("{Kind} gso_size={SegmentSize} hdr_len={HeaderLength}")]
[StructLayout(LayoutKind.Auto)]
public readonly struct SegmentationRequest : IEquatable<SegmentationRequest>
{
    /// <summary>Creates a request.</summary>
    /// <param name="kind">The <c>gso_type</c> without the ECN bit.</param>
    /// <param name="segmentSize"><c>gso_size</c>: the most payload bytes per segment (the MSS; for UFO, per IP fragment).</param>
    /// <param name="headerLength"><c>hdr_len</c> as the driver sent it.</param>
    /// <param name="headerLengthIsExact">Whether <c>VIRTIO_NET_F_GUEST_HDRLEN</c> was negotiated, so <c>hdr_len</c> must equal
    /// the length of the headers up to the transport payload; otherwise it is only a hint (§5.1.6.2.2).</param>
    public SegmentationRequest(SegmentationKind kind, ushort segmentSize, ushort headerLength, bool headerLengthIsExact = false)
    {
        Kind = kind;
        SegmentSize = segmentSize;
        HeaderLength = headerLength;
        HeaderLengthIsExact = headerLengthIsExact;
    }

    /// <summary>Gets the kind of segmentation.</summary>
    public SegmentationKind Kind { get; }

    /// <summary>Gets <c>gso_size</c>.</summary>
    public ushort SegmentSize { get; }

    /// <summary>Gets <c>hdr_len</c>. It is never trusted: the headers are parsed, and <c>hdr_len</c> is only checked against them.</summary>
    public ushort HeaderLength { get; }

    /// <summary>Gets whether <c>hdr_len</c> must be exact (<c>VIRTIO_NET_F_GUEST_HDRLEN</c>).</summary>
    public bool HeaderLengthIsExact { get; }

    /// <summary>
    /// Gets the identification to put in the fragment headers when UFO fragments an IPv6 datagram (RFC 8200 §4.5). virtio
    /// does not carry one, so the device chooses: it should differ between datagrams of the same source and destination
    /// within the reassembly timeout (a per-device counter will do).
    /// </summary>
    public uint IPv6FragmentId { get; init; }

    /// <summary>Creates a request from the raw header fields; the ECN bit (0x80) of <paramref name="gsoType"/> is dropped.</summary>
    /// <param name="gsoType">The header's <c>gso_type</c>.</param>
    /// <param name="gsoSize">The header's <c>gso_size</c>.</param>
    /// <param name="hdrLen">The header's <c>hdr_len</c>.</param>
    /// <param name="headerLengthIsExact">Whether <c>VIRTIO_NET_F_GUEST_HDRLEN</c> was negotiated.</param>
    /// <returns>The request.</returns>
    public static SegmentationRequest FromHeader(byte gsoType, ushort gsoSize, ushort hdrLen, bool headerLengthIsExact = false) =>
        new((SegmentationKind)(gsoType & 0x7F), gsoSize, hdrLen, headerLengthIsExact);

    /// <summary>Compares two requests field by field.</summary>
    /// <param name="left">A request.</param>
    /// <param name="right">Another request.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(SegmentationRequest left, SegmentationRequest right) => left.Equals(right);

    /// <summary>Compares two requests field by field.</summary>
    /// <param name="left">A request.</param>
    /// <param name="right">Another request.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(SegmentationRequest left, SegmentationRequest right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(SegmentationRequest other) =>
        Kind == other.Kind && SegmentSize == other.SegmentSize && HeaderLength == other.HeaderLength
        && HeaderLengthIsExact == other.HeaderLengthIsExact && IPv6FragmentId == other.IPv6FragmentId;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SegmentationRequest other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() =>
        ((int)Kind << 24) ^ (SegmentSize << 8) ^ HeaderLength ^ (HeaderLengthIsExact ? 1 << 31 : 0) ^ (int)IPv6FragmentId;
}
