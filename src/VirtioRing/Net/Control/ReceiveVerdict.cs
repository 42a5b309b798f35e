namespace VirtioRing.Net.Control;

/// <summary>What the receive filter decided for one frame (virtio 1.2 §5.1.6.5.1–§5.1.6.5.3).</summary>
public enum ReceiveVerdict
{
    /// <summary>Deliver the frame to the driver.</summary>
    Accept = 0,

    /// <summary>Dropped: shorter than an Ethernet header (14 bytes, or 18 with an 802.1Q tag).</summary>
    DropRunt,

    /// <summary>Dropped: 802.1Q tagged with a VLAN id not in the filter table (<c>VIRTIO_NET_F_CTRL_VLAN</c>).</summary>
    DropVlan,

    /// <summary>Dropped: broadcast while <c>NOBCAST</c> is on.</summary>
    DropBroadcast,

    /// <summary>Dropped: multicast while <c>NOMULTI</c> is on.</summary>
    DropMulticastSuppressed,

    /// <summary>Dropped: multicast to an address not in the multicast table, without <c>ALLMULTI</c>.</summary>
    DropMulticastNotListed,

    /// <summary>Dropped: unicast while <c>NOUNI</c> is on.</summary>
    DropUnicastSuppressed,

    /// <summary>Dropped: unicast to neither the primary MAC nor an address of the unicast table, without <c>ALLUNI</c>.</summary>
    DropUnicastNotListed,
}
