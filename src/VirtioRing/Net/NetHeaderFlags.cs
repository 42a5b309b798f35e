using System;

namespace VirtioRing.Net;

/// <summary>The <c>flags</c> byte of <c>struct virtio_net_hdr</c> (virtio 1.3 §5.1.6, <c>VIRTIO_NET_HDR_F_*</c>).</summary>
[Flags]
public enum NetHeaderFlags : byte
{
    /// <summary>No flag: the frame is fully checksummed (or the checksum was not validated).</summary>
    None = 0,

    /// <summary><c>VIRTIO_NET_HDR_F_NEEDS_CSUM</c>: the checksum from <c>csum_start</c> to the end is to be stored at <c>csum_start + csum_offset</c>.</summary>
    NeedsChecksum = 1,

    /// <summary><c>VIRTIO_NET_HDR_F_DATA_VALID</c> (device to driver only): the device validated the checksum.</summary>
    DataValid = 2,

    /// <summary><c>VIRTIO_NET_HDR_F_RSC_INFO</c> (device to driver only, <c>RSC_EXT</c>): <c>csum_start</c>/<c>csum_offset</c> carry coalescing counts.</summary>
    RscInfo = 4,

    /// <summary><c>VIRTIO_NET_HDR_F_UDP_TUNNEL_CSUM</c>: the outer UDP checksum of a tunnelled GSO frame (UDP tunnel features, not supported here).</summary>
    UdpTunnelChecksum = 8,
}
