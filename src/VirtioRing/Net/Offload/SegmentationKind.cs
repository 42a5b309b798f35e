namespace VirtioRing.Net.Offload;

/// <summary>
/// What a super-frame asks to be cut into: the <c>gso_type</c> values of virtio 1.2 §5.1.6 (without the
/// <c>VIRTIO_NET_HDR_GSO_ECN</c> bit, 0x80), so <c>(SegmentationKind)(gso_type &amp; 0x7F)</c> converts.
/// </summary>
public enum SegmentationKind : byte
{
    /// <summary><c>VIRTIO_NET_HDR_GSO_NONE</c>: not a super-frame (nothing to segment; refused by the segmenter).</summary>
    None = 0,

    /// <summary><c>VIRTIO_NET_HDR_GSO_TCPV4</c>: TCP segmentation over IPv4 (TSO4).</summary>
    TcpV4 = 1,

    /// <summary><c>VIRTIO_NET_HDR_GSO_UDP</c>: UDP fragmentation offload (UFO): one UDP datagram cut into IP fragments.</summary>
    Udp = 3,

    /// <summary><c>VIRTIO_NET_HDR_GSO_TCPV6</c>: TCP segmentation over IPv6 (TSO6).</summary>
    TcpV6 = 4,

    /// <summary><c>VIRTIO_NET_HDR_GSO_UDP_L4</c>: UDP segmentation offload (USO): many UDP datagrams, each with its own header.</summary>
    UdpL4 = 5,
}
