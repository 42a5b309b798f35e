namespace VirtioRing.Net.Offload;

/// <summary>
/// Why an offload helper refused a frame. A frame comes from a guest and may be hostile: each of these is a status, never
/// an exception, and the helper wrote nothing outside the buffers it was given. The engine drops and counts the frame.
/// </summary>
public enum OffloadError
{
    /// <summary>No error.</summary>
    None = 0,

    /// <summary>The frame is shorter than its Ethernet header (with VLAN tags).</summary>
    TruncatedEthernetHeader,

    /// <summary>The EtherType (after VLAN tags) is neither IPv4 nor IPv6, or there are more than two VLAN tags.</summary>
    UnsupportedEtherType,

    /// <summary>The frame ends inside the IP header (or an IPv6 extension header).</summary>
    TruncatedIPHeader,

    /// <summary>The IP version field does not match the EtherType.</summary>
    BadIPVersion,

    /// <summary>The IPv4 header length (IHL) is below 5 words.</summary>
    BadIPv4HeaderLength,

    /// <summary>The IP total length (IPv4) or payload length (IPv6) is smaller than the headers or larger than the frame.</summary>
    BadIPLength,

    /// <summary>The packet is already an IP fragment (segmentation needs a whole datagram).</summary>
    IPFragment,

    /// <summary>An IPv6 extension header this helper does not handle here (routing, or any before a UFO fragment), or too many of them.</summary>
    UnsupportedIPv6ExtensionHeader,

    /// <summary>The transport protocol does not match the offload (TSO needs TCP; UFO and USO need UDP).</summary>
    ProtocolMismatch,

    /// <summary>The frame ends inside the TCP or UDP header.</summary>
    TruncatedTransportHeader,

    /// <summary>The TCP data offset is below 5 words.</summary>
    BadTcpDataOffset,

    /// <summary><c>hdr_len</c> lies past the end of the frame.</summary>
    HeaderLengthPastFrame,

    /// <summary><c>hdr_len</c> differs from the parsed header length although <c>VIRTIO_NET_F_GUEST_HDRLEN</c> says it is exact.</summary>
    HeaderLengthMismatch,

    /// <summary><c>gso_size</c> is zero, too small for the offload (UFO needs 8), or makes a segment longer than an IP packet can be.</summary>
    BadSegmentSize,

    /// <summary>The <c>gso_type</c> is not one this helper segments (TCPV4, UDP, TCPV6, UDP_L4).</summary>
    UnsupportedSegmentationKind,

    /// <summary>The datagram is too large to express as fragments or segments (IP lengths and fragment offsets are bounded).</summary>
    PayloadTooLarge,

    /// <summary><c>csum_start + csum_offset + 2</c> exceeds the frame (DPDK CVE-2024-11614): the checksum would land outside it.</summary>
    ChecksumOutOfFrame,

    /// <summary>The output (a sink's buffer, or the caller's span) is too small for the next segment.</summary>
    OutputTooSmall,
}
