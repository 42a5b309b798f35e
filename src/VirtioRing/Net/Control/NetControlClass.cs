namespace VirtioRing.Net.Control;

/// <summary>The <c>class</c> byte of a control-queue command (virtio 1.2 §5.1.6.5, <c>VIRTIO_NET_CTRL_*</c>).</summary>
public enum NetControlClass : byte
{
    /// <summary><c>VIRTIO_NET_CTRL_RX</c> (0): receive modes (§5.1.6.5.1).</summary>
    Rx = 0,

    /// <summary><c>VIRTIO_NET_CTRL_MAC</c> (1): MAC filter table and default address (§5.1.6.5.2).</summary>
    Mac = 1,

    /// <summary><c>VIRTIO_NET_CTRL_VLAN</c> (2): VLAN filter table (§5.1.6.5.3).</summary>
    Vlan = 2,

    /// <summary><c>VIRTIO_NET_CTRL_ANNOUNCE</c> (3): gratuitous packet acknowledgement (§5.1.6.5.4).</summary>
    Announce = 3,

    /// <summary><c>VIRTIO_NET_CTRL_MQ</c> (4): multiqueue, RSS and hash configuration (§5.1.6.5.5–§5.1.6.5.7).</summary>
    Mq = 4,

    /// <summary><c>VIRTIO_NET_CTRL_GUEST_OFFLOADS</c> (5): guest offload state (§5.1.6.5.8).</summary>
    GuestOffloads = 5,

    /// <summary><c>VIRTIO_NET_CTRL_NOTF_COAL</c> (6): notification coalescing (§5.1.6.5.9).</summary>
    NotificationCoalescing = 6,
}
