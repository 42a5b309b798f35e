using System;

namespace VirtioRing.Net.Control;

/// <summary>
/// The receive modes the <c>VIRTIO_NET_CTRL_RX</c> commands switch (virtio 1.2 §5.1.6.5.1). Flag
/// <c>1 &lt;&lt; n</c> is set by command number <c>n</c> of that class.
/// </summary>
[Flags]
public enum NetRxMode
{
    /// <summary>No mode.</summary>
    None = 0,

    /// <summary><c>VIRTIO_NET_CTRL_RX_PROMISC</c>: receive every frame.</summary>
    Promiscuous = 1 << 0,

    /// <summary><c>VIRTIO_NET_CTRL_RX_ALLMULTI</c>: receive every multicast frame.</summary>
    AllMulticast = 1 << 1,

    /// <summary><c>VIRTIO_NET_CTRL_RX_ALLUNI</c>: receive every unicast frame.</summary>
    AllUnicast = 1 << 2,

    /// <summary><c>VIRTIO_NET_CTRL_RX_NOMULTI</c>: receive no multicast frame (wins over all-multicast; not broadcast).</summary>
    NoMulticast = 1 << 3,

    /// <summary><c>VIRTIO_NET_CTRL_RX_NOUNI</c>: receive no unicast frame (wins over all-unicast).</summary>
    NoUnicast = 1 << 4,

    /// <summary><c>VIRTIO_NET_CTRL_RX_NOBCAST</c>: receive no broadcast frame (wins over all-multicast).</summary>
    NoBroadcast = 1 << 5,
}
