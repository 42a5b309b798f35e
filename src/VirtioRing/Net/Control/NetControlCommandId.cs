namespace VirtioRing.Net.Control;

/// <summary>
/// A control-queue command as one value: <c>(class &lt;&lt; 8) | command</c>, with the class and command
/// numbers of virtio 1.2 §5.1.6.5. The first two bytes of a command on the wire are
/// <c>class</c> then <c>command</c>.
/// </summary>
public enum NetControlCommandId : ushort
{
    /// <summary><c>VIRTIO_NET_CTRL_RX_PROMISC</c> (class 0, command 0): promiscuous mode on/off (u8).</summary>
    RxPromiscuous = 0x0000,

    /// <summary><c>VIRTIO_NET_CTRL_RX_ALLMULTI</c> (0, 1): all-multicast receive on/off (u8).</summary>
    RxAllMulticast = 0x0001,

    /// <summary><c>VIRTIO_NET_CTRL_RX_ALLUNI</c> (0, 2): all-unicast receive on/off (u8).</summary>
    RxAllUnicast = 0x0002,

    /// <summary><c>VIRTIO_NET_CTRL_RX_NOMULTI</c> (0, 3): multicast receive suppressed on/off (u8).</summary>
    RxNoMulticast = 0x0003,

    /// <summary><c>VIRTIO_NET_CTRL_RX_NOUNI</c> (0, 4): unicast receive suppressed on/off (u8).</summary>
    RxNoUnicast = 0x0004,

    /// <summary><c>VIRTIO_NET_CTRL_RX_NOBCAST</c> (0, 5): broadcast receive suppressed on/off (u8).</summary>
    RxNoBroadcast = 0x0005,

    /// <summary><c>VIRTIO_NET_CTRL_MAC_TABLE_SET</c> (1, 0): two <c>virtio_net_ctrl_mac</c> tables, unicast then multicast.</summary>
    MacTableSet = 0x0100,

    /// <summary><c>VIRTIO_NET_CTRL_MAC_ADDR_SET</c> (1, 1): the default MAC address (6 bytes).</summary>
    MacAddressSet = 0x0101,

    /// <summary><c>VIRTIO_NET_CTRL_VLAN_ADD</c> (2, 0): add a VLAN id (le16) to the filter table.</summary>
    VlanAdd = 0x0200,

    /// <summary><c>VIRTIO_NET_CTRL_VLAN_DEL</c> (2, 1): remove a VLAN id (le16) from the filter table.</summary>
    VlanDelete = 0x0201,

    /// <summary><c>VIRTIO_NET_CTRL_ANNOUNCE_ACK</c> (3, 0): the driver handled <c>VIRTIO_NET_S_ANNOUNCE</c> (no data).</summary>
    AnnounceAck = 0x0300,

    /// <summary><c>VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET</c> (4, 0): number of queue pairs (le16), automatic steering.</summary>
    MqQueuePairsSet = 0x0400,

    /// <summary><c>VIRTIO_NET_CTRL_MQ_RSS_CONFIG</c> (4, 1): <c>virtio_net_rss_config</c>.</summary>
    MqRssConfig = 0x0401,

    /// <summary><c>VIRTIO_NET_CTRL_MQ_HASH_CONFIG</c> (4, 2): <c>virtio_net_hash_config</c>.</summary>
    MqHashConfig = 0x0402,

    /// <summary><c>VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET</c> (5, 0): guest offloads (le64 feature bits).</summary>
    GuestOffloadsSet = 0x0500,

    /// <summary><c>VIRTIO_NET_CTRL_NOTF_COAL_TX_SET</c> (6, 0): <c>virtio_net_ctrl_coal</c> for all transmit queues.</summary>
    CoalescingTxSet = 0x0600,

    /// <summary><c>VIRTIO_NET_CTRL_NOTF_COAL_RX_SET</c> (6, 1): <c>virtio_net_ctrl_coal</c> for all receive queues.</summary>
    CoalescingRxSet = 0x0601,

    /// <summary><c>VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET</c> (6, 2): <c>virtio_net_ctrl_coal_vq</c> for one queue.</summary>
    CoalescingQueueSet = 0x0602,

    /// <summary><c>VIRTIO_NET_CTRL_NOTF_COAL_VQ_GET</c> (6, 3): le16 vq_index, le16 reserved; the result follows the ack.</summary>
    CoalescingQueueGet = 0x0603,
}
