namespace VirtioRing.Net;

/// <summary>
/// The <c>gso_type</c> byte of <c>struct virtio_net_hdr</c> (virtio 1.3 §5.1.6, <c>VIRTIO_NET_HDR_GSO_*</c>):
/// a base type in the low bits, possibly ORed with <see cref="Ecn"/> (and, with the UDP tunnel
/// features, the tunnel bits).
/// </summary>
#pragma warning disable CA1028 // the wire field is one byte
public enum NetGsoType : byte
#pragma warning restore CA1028
{
    /// <summary><c>VIRTIO_NET_HDR_GSO_NONE</c>: not a super-frame.</summary>
    None = 0,

    /// <summary><c>VIRTIO_NET_HDR_GSO_TCPV4</c>: TCP over IPv4 segmentation.</summary>
    TcpV4 = 1,

    /// <summary><c>VIRTIO_NET_HDR_GSO_UDP</c>: UDP fragmentation (UFO).</summary>
    Udp = 3,

    /// <summary><c>VIRTIO_NET_HDR_GSO_TCPV6</c>: TCP over IPv6 segmentation.</summary>
    TcpV6 = 4,

    /// <summary><c>VIRTIO_NET_HDR_GSO_UDP_L4</c>: UDP segmentation (USO).</summary>
    UdpL4 = 5,

    /// <summary><c>VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4</c> bit: GSO inside a UDP tunnel over IPv4.</summary>
    UdpTunnelIPv4 = 0x20,

    /// <summary><c>VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV6</c> bit: GSO inside a UDP tunnel over IPv6.</summary>
    UdpTunnelIPv6 = 0x40,

    /// <summary><c>VIRTIO_NET_HDR_GSO_ECN</c> bit: the TCP super-frame has the ECN (CWR) bit set.</summary>
    Ecn = 0x80,
}
