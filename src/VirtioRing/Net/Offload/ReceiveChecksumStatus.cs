namespace VirtioRing.Net.Offload;

/// <summary>What <see cref="ChecksumOffload.ValidateReceived"/> found about a frame's checksums.</summary>
public enum ReceiveChecksumStatus
{
    /// <summary>The IPv4 header checksum (if IPv4) and the TCP or UDP checksum verify: the device may set <c>DATA_VALID</c>.</summary>
    Valid = 0,

    /// <summary>
    /// A UDP-over-IPv4 datagram without a checksum (zero, RFC 768) and a valid IPv4 header: nothing more to verify, so the
    /// device may set <c>DATA_VALID</c> (Linux treats it as verified too).
    /// </summary>
    UdpChecksumAbsent,

    /// <summary>No TCP or UDP checksum to verify: not IP, another transport protocol, or an IP fragment. Leave <c>DATA_VALID</c> clear.</summary>
    NotCovered,

    /// <summary>The IPv4 header checksum is wrong.</summary>
    IPv4HeaderChecksumInvalid,

    /// <summary>The TCP or UDP checksum is wrong (or a UDP-over-IPv6 checksum is zero, which RFC 8200 §8.1 forbids).</summary>
    TransportChecksumInvalid,

    /// <summary>The headers are malformed or truncated; see <see cref="ReceiveChecksumResult.Error"/>.</summary>
    Malformed,
}
