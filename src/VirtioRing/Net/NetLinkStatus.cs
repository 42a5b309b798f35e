using System;

namespace VirtioRing.Net;

/// <summary>The config space <c>status</c> field (virtio 1.3 §5.1.4, <c>VIRTIO_NET_S_*</c>).</summary>
[Flags]
#pragma warning disable CA1028 // the wire field is le16
public enum NetLinkStatus : ushort
#pragma warning restore CA1028
{
    /// <summary>Link down, nothing to announce.</summary>
    None = 0,

    /// <summary><c>VIRTIO_NET_S_LINK_UP</c>: the link is up.</summary>
    LinkUp = 1,

    /// <summary><c>VIRTIO_NET_S_ANNOUNCE</c>: the device asks the driver to send gratuitous packets (<c>GUEST_ANNOUNCE</c>).</summary>
    Announce = 2,
}
