namespace VirtioRing.Net.Multiqueue;

/// <summary>The <c>hash_report</c> value of the 20-byte header (virtio 1.2 §5.1.6.4.4, <c>VIRTIO_NET_HASH_REPORT_*</c>).</summary>
public enum NetHashReport : ushort
{
    /// <summary>No hash was calculated.</summary>
    None = 0,

    /// <summary>IPv4 addresses.</summary>
    IPv4 = 1,

    /// <summary>IPv4 addresses and TCP ports.</summary>
    TcpV4 = 2,

    /// <summary>IPv4 addresses and UDP ports.</summary>
    UdpV4 = 3,

    /// <summary>IPv6 addresses.</summary>
    IPv6 = 4,

    /// <summary>IPv6 addresses and TCP ports.</summary>
    TcpV6 = 5,

    /// <summary>IPv6 addresses and UDP ports.</summary>
    UdpV6 = 6,

    /// <summary>IPv6 addresses from extension headers.</summary>
    IPv6Ex = 7,

    /// <summary>IPv6 addresses from extension headers and TCP ports.</summary>
    TcpV6Ex = 8,

    /// <summary>IPv6 addresses from extension headers and UDP ports.</summary>
    UdpV6Ex = 9,
}
