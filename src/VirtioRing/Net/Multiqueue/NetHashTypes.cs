using System;

namespace VirtioRing.Net.Multiqueue;

/// <summary>The hash types of RSS and hash reporting (virtio 1.2 §5.1.6.4.3.1, <c>VIRTIO_NET_HASH_TYPE_*</c>).</summary>
[Flags]
public enum NetHashTypes : uint
{
    /// <summary>No hash type.</summary>
    None = 0,

    /// <summary><c>VIRTIO_NET_HASH_TYPE_IPv4</c>: source and destination IPv4 addresses.</summary>
    IPv4 = 1 << 0,

    /// <summary><c>VIRTIO_NET_HASH_TYPE_TCPv4</c>: IPv4 addresses and TCP ports.</summary>
    TcpV4 = 1 << 1,

    /// <summary><c>VIRTIO_NET_HASH_TYPE_UDPv4</c>: IPv4 addresses and UDP ports.</summary>
    UdpV4 = 1 << 2,

    /// <summary><c>VIRTIO_NET_HASH_TYPE_IPv6</c>: source and destination IPv6 addresses.</summary>
    IPv6 = 1 << 3,

    /// <summary><c>VIRTIO_NET_HASH_TYPE_TCPv6</c>: IPv6 addresses and TCP ports.</summary>
    TcpV6 = 1 << 4,

    /// <summary><c>VIRTIO_NET_HASH_TYPE_UDPv6</c>: IPv6 addresses and UDP ports.</summary>
    UdpV6 = 1 << 5,

    /// <summary><c>VIRTIO_NET_HASH_TYPE_IP_EX</c>: IPv6 addresses, taken from the home-address option and routing header when present.</summary>
    IPEx = 1 << 6,

    /// <summary><c>VIRTIO_NET_HASH_TYPE_TCP_EX</c>: as <see cref="IPEx"/>, with TCP ports.</summary>
    TcpEx = 1 << 7,

    /// <summary><c>VIRTIO_NET_HASH_TYPE_UDP_EX</c>: as <see cref="IPEx"/>, with UDP ports.</summary>
    UdpEx = 1 << 8,
}
