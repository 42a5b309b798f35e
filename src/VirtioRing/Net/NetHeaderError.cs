namespace VirtioRing.Net;

/// <summary>
/// Why a <c>virtio_net_hdr</c> from a guest was refused. A refused header means a dropped, counted
/// frame — never an exception.
/// </summary>
public enum NetHeaderError
{
    /// <summary>The header is usable.</summary>
    None = 0,

    /// <summary>The input (a span, or a chain's readable bytes) is shorter than the header (DPDK CVE-2022-2132's case).</summary>
    TooShort,

    /// <summary>The base <c>gso_type</c> is not one the spec defines (or <c>GSO_ECN</c> on <c>GSO_NONE</c>).</summary>
    UnknownGsoType,

    /// <summary>The <c>gso_type</c> needs a <c>HOST_*</c> feature that was not negotiated (§5.1.6.2 driver requirements).</summary>
    GsoTypeNotNegotiated,

    /// <summary>The <c>GSO_ECN</c> bit is set but <c>HOST_ECN</c> was not negotiated.</summary>
    EcnNotNegotiated,

    /// <summary>A UDP tunnel bit or flag is set; the UDP tunnel features are not negotiable here.</summary>
    TunnelNotNegotiated,

    /// <summary><c>NEEDS_CSUM</c> is set but <c>CSUM</c> was not negotiated ("the driver MUST set flags to zero", §5.1.6.2).</summary>
    ChecksumNotNegotiated,

    /// <summary>A GSO frame without <c>NEEDS_CSUM</c> ("the driver MUST also set NEEDS_CSUM", §5.1.6.2).</summary>
    GsoWithoutChecksum,

    /// <summary><c>csum_start + csum_offset + 2</c> is past the end of the frame (DPDK CVE-2024-11614).</summary>
    ChecksumOutsideFrame,

    /// <summary>A GSO frame with <c>gso_size</c> zero.</summary>
    BadGsoSize,

    /// <summary>A GSO frame whose <c>hdr_len</c> is past the end of the frame, or (with <c>GUEST_HDRLEN</c>) does not cover the transport header start.</summary>
    BadHeaderLength,
}
