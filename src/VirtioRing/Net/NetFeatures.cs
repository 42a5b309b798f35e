using System;

namespace VirtioRing.Net;

/// <summary>
/// The virtio-net feature bits (virtio 1.2 §5.1.3) and the transport bits this library uses (§6),
/// as one 64-bit flags value. Bit numbers are the spec's.
/// </summary>
[Flags]
#pragma warning disable CA1028 // the spec's feature word is 64-bit
public enum NetFeatures : ulong
{
    /// <summary>No feature.</summary>
    None = 0,

    /// <summary><c>VIRTIO_NET_F_CSUM</c> (bit 0): The device handles packets with a partial checksum (the driver may send NEEDS_CSUM).</summary>
    Csum = 1UL << 0,

    /// <summary><c>VIRTIO_NET_F_GUEST_CSUM</c> (bit 1): The driver handles packets with a partial checksum (the device may deliver NEEDS_CSUM / DATA_VALID).</summary>
    GuestCsum = 1UL << 1,

    /// <summary><c>VIRTIO_NET_F_CTRL_GUEST_OFFLOADS</c> (bit 2): The driver can reconfigure guest offloads through the control queue.</summary>
    CtrlGuestOffloads = 1UL << 2,

    /// <summary><c>VIRTIO_NET_F_MTU</c> (bit 3): The device reports a maximum MTU in its config space.</summary>
    Mtu = 1UL << 3,

    /// <summary><c>VIRTIO_NET_F_MAC</c> (bit 5): The device has a MAC address in its config space.</summary>
    Mac = 1UL << 5,

    /// <summary><c>VIRTIO_NET_F_GUEST_TSO4</c> (bit 7): The driver can receive TSOv4 super-frames.</summary>
    GuestTso4 = 1UL << 7,

    /// <summary><c>VIRTIO_NET_F_GUEST_TSO6</c> (bit 8): The driver can receive TSOv6 super-frames.</summary>
    GuestTso6 = 1UL << 8,

    /// <summary><c>VIRTIO_NET_F_GUEST_ECN</c> (bit 9): The driver can receive TSO with ECN.</summary>
    GuestEcn = 1UL << 9,

    /// <summary><c>VIRTIO_NET_F_GUEST_UFO</c> (bit 10): The driver can receive UFO super-frames.</summary>
    GuestUfo = 1UL << 10,

    /// <summary><c>VIRTIO_NET_F_HOST_TSO4</c> (bit 11): The device can receive (from the driver) TSOv4 super-frames.</summary>
    HostTso4 = 1UL << 11,

    /// <summary><c>VIRTIO_NET_F_HOST_TSO6</c> (bit 12): The device can receive TSOv6 super-frames.</summary>
    HostTso6 = 1UL << 12,

    /// <summary><c>VIRTIO_NET_F_HOST_ECN</c> (bit 13): The device can receive TSO with ECN.</summary>
    HostEcn = 1UL << 13,

    /// <summary><c>VIRTIO_NET_F_HOST_UFO</c> (bit 14): The device can receive UFO super-frames.</summary>
    HostUfo = 1UL << 14,

    /// <summary><c>VIRTIO_NET_F_MRG_RXBUF</c> (bit 15): The driver can merge receive buffers (num_buffers).</summary>
    MrgRxBuf = 1UL << 15,

    /// <summary><c>VIRTIO_NET_F_STATUS</c> (bit 16): The config space status field is available.</summary>
    Status = 1UL << 16,

    /// <summary><c>VIRTIO_NET_F_CTRL_VQ</c> (bit 17): A control virtqueue is available.</summary>
    CtrlVq = 1UL << 17,

    /// <summary><c>VIRTIO_NET_F_CTRL_RX</c> (bit 18): Control channel RX mode support.</summary>
    CtrlRx = 1UL << 18,

    /// <summary><c>VIRTIO_NET_F_CTRL_VLAN</c> (bit 19): Control channel VLAN filtering.</summary>
    CtrlVlan = 1UL << 19,

    /// <summary><c>VIRTIO_NET_F_CTRL_RX_EXTRA</c> (bit 20): Control channel extra RX modes (all-unicast, no-multicast, no-unicast, no-broadcast).</summary>
    CtrlRxExtra = 1UL << 20,

    /// <summary><c>VIRTIO_NET_F_GUEST_ANNOUNCE</c> (bit 21): The driver can send gratuitous packets on request.</summary>
    GuestAnnounce = 1UL << 21,

    /// <summary><c>VIRTIO_NET_F_MQ</c> (bit 22): Multiqueue with automatic receive steering.</summary>
    Mq = 1UL << 22,

    /// <summary><c>VIRTIO_NET_F_CTRL_MAC_ADDR</c> (bit 23): The MAC address can be set through the control queue.</summary>
    CtrlMacAddr = 1UL << 23,

    /// <summary><c>VIRTIO_F_NOTIFY_ON_EMPTY</c> (bit 24): Legacy transport bit: notify when the avail ring is empty.</summary>
    NotifyOnEmpty = 1UL << 24,

    /// <summary><c>VIRTIO_F_ANY_LAYOUT</c> (bit 27): Legacy transport bit: no assumptions about the framing of buffers.</summary>
    AnyLayout = 1UL << 27,

    /// <summary><c>VIRTIO_F_INDIRECT_DESC</c> (bit 28): Transport: indirect descriptors.</summary>
    IndirectDesc = 1UL << 28,

    /// <summary><c>VIRTIO_F_EVENT_IDX</c> (bit 29): Transport: used_event / avail_event notification suppression.</summary>
    EventIdx = 1UL << 29,

    /// <summary><c>VIRTIO_F_VERSION_1</c> (bit 32): Transport: virtio 1.x (little-endian, modern layout).</summary>
    Version1 = 1UL << 32,

    /// <summary><c>VIRTIO_F_ACCESS_PLATFORM</c> (bit 33): Transport: the device goes through a platform IOMMU.</summary>
    AccessPlatform = 1UL << 33,

    /// <summary><c>VIRTIO_F_RING_PACKED</c> (bit 34): Transport: packed virtqueues.</summary>
    RingPacked = 1UL << 34,

    /// <summary><c>VIRTIO_F_IN_ORDER</c> (bit 35): Transport: buffers are used in the order they were made available.</summary>
    InOrder = 1UL << 35,

    /// <summary><c>VIRTIO_F_ORDER_PLATFORM</c> (bit 36): Transport: platform memory ordering is required.</summary>
    OrderPlatform = 1UL << 36,

    /// <summary><c>VIRTIO_F_SR_IOV</c> (bit 37): Transport: single-root I/O virtualization.</summary>
    SrIov = 1UL << 37,

    /// <summary><c>VIRTIO_F_NOTIFICATION_DATA</c> (bit 38): Transport: the driver passes extra data in notifications.</summary>
    NotificationData = 1UL << 38,

    /// <summary><c>VIRTIO_F_NOTIF_CONFIG_DATA</c> (bit 39): Transport: the driver uses data from the transport for notifications.</summary>
    NotifConfigData = 1UL << 39,

    /// <summary><c>VIRTIO_F_RING_RESET</c> (bit 40): Transport: individual queues can be reset.</summary>
    RingReset = 1UL << 40,

    /// <summary><c>VIRTIO_NET_F_GUEST_RSC4</c> (bit 41): Legacy: the device coalesces TCPv4 (receive segment coalescing).</summary>
    GuestRsc4 = 1UL << 41,

    /// <summary><c>VIRTIO_NET_F_GUEST_RSC6</c> (bit 42): Legacy: the device coalesces TCPv6.</summary>
    GuestRsc6 = 1UL << 42,

    /// <summary><c>VIRTIO_NET_F_HASH_TUNNEL</c> (bit 51): The device reports hashes of encapsulated (tunnelled) packets.</summary>
    HashTunnel = 1UL << 51,

    /// <summary><c>VIRTIO_NET_F_VQ_NOTF_COAL</c> (bit 52): Per-virtqueue notification coalescing.</summary>
    VqNotfCoal = 1UL << 52,

    /// <summary><c>VIRTIO_NET_F_NOTF_COAL</c> (bit 53): Device-wide notification coalescing.</summary>
    NotfCoal = 1UL << 53,

    /// <summary><c>VIRTIO_NET_F_GUEST_USO4</c> (bit 54): The driver can receive USOv4 super-frames.</summary>
    GuestUso4 = 1UL << 54,

    /// <summary><c>VIRTIO_NET_F_GUEST_USO6</c> (bit 55): The driver can receive USOv6 super-frames.</summary>
    GuestUso6 = 1UL << 55,

    /// <summary><c>VIRTIO_NET_F_HOST_USO</c> (bit 56): The device can receive USO super-frames.</summary>
    HostUso = 1UL << 56,

    /// <summary><c>VIRTIO_NET_F_HASH_REPORT</c> (bit 57): The device reports a hash value and type in the header.</summary>
    HashReport = 1UL << 57,

    /// <summary><c>VIRTIO_NET_F_GUEST_HDRLEN</c> (bit 59): The driver provides the exact hdr_len value.</summary>
    GuestHdrLen = 1UL << 59,

    /// <summary><c>VIRTIO_NET_F_RSS</c> (bit 60): Receive-side scaling with a configurable Toeplitz key and indirection table.</summary>
    Rss = 1UL << 60,

    /// <summary><c>VIRTIO_NET_F_RSC_EXT</c> (bit 61): Extended coalescing info.</summary>
    RscExt = 1UL << 61,

    /// <summary><c>VIRTIO_NET_F_STANDBY</c> (bit 62): The device may act as a standby for a primary device with the same MAC.</summary>
    Standby = 1UL << 62,

    /// <summary><c>VIRTIO_NET_F_SPEED_DUPLEX</c> (bit 63): The device reports speed and duplex.</summary>
    SpeedDuplex = 1UL << 63,
}
#pragma warning restore CA1028
