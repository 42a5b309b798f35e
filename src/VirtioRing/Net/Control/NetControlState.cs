using VirtioRing.Net;
using System;
using System.Diagnostics;
using VirtioRing.Net.Multiqueue;

namespace VirtioRing.Net.Control;

/// <summary>
/// One immutable snapshot of everything the control queue configures (virtio 1.2 §5.1.6.5): receive
/// modes, MAC and VLAN filters, queue pairs and steering, hash parameters, guest offloads,
/// notification coalescing, and the pending announce. The handler builds a new snapshot for every
/// applied command and swaps it in with one release store, so receive paths on other threads read
/// <see cref="NetControlHandler.State"/> without locks and always see a whole configuration.
/// </summary>
[DebuggerDisplay("v{Version} mode={RxMode} pairs={ActiveQueuePairs}/{MaxQueuePairs} steering={Steering}")]
public sealed partial class NetControlState
{
    /// <summary>The guest offload bits <c>GUEST_OFFLOADS_SET</c> may carry (§5.1.6.5.8), including
    /// <c>GUEST_UDP_TUNNEL_GSO</c> (46) and <c>GUEST_UDP_TUNNEL_GSO_CSUM</c> (47), which have no named flag here.</summary>
    internal const NetFeatures GuestOffloadMask = NetFeatures.GuestCsum | NetFeatures.GuestTso4 | NetFeatures.GuestTso6 |
        NetFeatures.GuestEcn | NetFeatures.GuestUfo | (NetFeatures)(1UL << 46) | (NetFeatures)(1UL << 47) |
        NetFeatures.GuestUso4 | NetFeatures.GuestUso6;

    // Fields are written only while the handler builds a snapshot, before it is published.
    internal NetRxMode _rxMode;
    internal ulong _primaryMac;
    internal MacFilterTable _unicast = MacFilterTable.Empty;
    internal MacFilterTable _multicast = MacFilterTable.Empty;
    internal ulong[] _vlans = new ulong[VlanWords];
    internal int _activePairs = 1;
    internal ReceiveSteering _steering;
    internal RssConfiguration? _rss;
    internal NetHashTypes _hashConfigTypes;
    internal ReadOnlyMemory<byte> _hashConfigKey;
    internal NetFeatures _guestOffloads;
    internal NotificationCoalescing _txCoalescing;
    internal NotificationCoalescing _rxCoalescing;
    internal NotificationCoalescing[] _queueCoalescing;
    internal bool _announcePending;
    internal ulong _version;

    private const int VlanWords = 4096 / 64;

    /// <summary>The reset state (§5.1.6.5: empty tables, one queue pair, offloads as negotiated).</summary>
    internal NetControlState(NetFeatures features, NetControlLimits limits)
    {
        NegotiatedFeatures = features;
        MaxQueuePairs = limits.MaxQueuePairs;
        IsVlanFilteringEnabled = (features & NetFeatures.CtrlVlan) != 0;

        // QEMU resets to promiscuous ("compatibility mode"): a driver without CTRL_RX can never turn
        // filtering on, and a driver with it sets the modes it wants when it opens the device.
        _rxMode = NetRxMode.Promiscuous;
        _primaryMac = limits.Mac.Value;

        // §5.1.6.5.8: "Upon feature negotiation corresponding offload gets enabled".
        _guestOffloads = features & GuestOffloadMask;
        _queueCoalescing = (features & (NetFeatures.NotfCoal | NetFeatures.VqNotfCoal)) != 0
            ? new NotificationCoalescing[2 * limits.MaxQueuePairs]
            : Array.Empty<NotificationCoalescing>();
    }

    /// <summary>Gets a number that grows by one with every applied command (0 after reset).</summary>
    public ulong Version => _version;

    /// <summary>Gets the negotiated features the snapshot was built for.</summary>
    public NetFeatures NegotiatedFeatures { get; }

    /// <summary>Gets the receive modes (promiscuous after reset, as QEMU).</summary>
    public NetRxMode RxMode => _rxMode;

    /// <summary>Gets the primary (default) MAC: the config-space <c>mac</c>, or the last <c>MAC_ADDR_SET</c>.</summary>
    public MacAddress PrimaryMac => new(_primaryMac);

    /// <summary>Gets the unicast table of the last <c>MAC_TABLE_SET</c>.</summary>
    public MacFilterTable UnicastFilter => _unicast;

    /// <summary>Gets the multicast table of the last <c>MAC_TABLE_SET</c>.</summary>
    public MacFilterTable MulticastFilter => _multicast;

    /// <summary>Gets whether tagged frames are filtered by VLAN id (<c>VIRTIO_NET_F_CTRL_VLAN</c> negotiated, §5.1.6.5.3).</summary>
    public bool IsVlanFilteringEnabled { get; }

    /// <summary>Gets <c>max_virtqueue_pairs</c>.</summary>
    public int MaxQueuePairs { get; }

    /// <summary>
    /// Gets the queue pairs in use: 1 after reset, <c>virtqueue_pairs</c> of <c>VQ_PAIRS_SET</c>, or
    /// <c>max_tx_vq</c> of <c>RSS_CONFIG</c> (as QEMU). The engine switches over without losing buffers.
    /// </summary>
    public int ActiveQueuePairs => _activePairs;

    /// <summary>Gets how the device steers received frames (the last MQ command decides, §5.1.6.5.5).</summary>
    public ReceiveSteering Steering => _steering;

    /// <summary>Gets the RSS configuration when <see cref="Steering"/> is <see cref="ReceiveSteering.Rss"/>; otherwise null.</summary>
    public RssConfiguration? Rss => _rss;

    /// <summary>
    /// Gets the hash types to calculate (and report, with <c>VIRTIO_NET_F_HASH_REPORT</c>): those of the
    /// RSS configuration under RSS, else those of the last <c>HASH_CONFIG</c> (none after reset, §5.1.6.5.6.4).
    /// </summary>
    public NetHashTypes HashTypes => _rss is { } rss ? rss.HashTypes : _hashConfigTypes;

    /// <summary>Gets the Toeplitz key that goes with <see cref="HashTypes"/>.</summary>
    public ReadOnlyMemory<byte> HashKey => _rss is { } rss ? rss.Key : _hashConfigKey;

    /// <summary>Gets the enabled guest offloads (feature bits; all negotiated ones after reset).</summary>
    public NetFeatures GuestOffloads => _guestOffloads;

    /// <summary>Gets the coalescing of the last <c>NOTF_COAL_TX_SET</c> (zero after reset).</summary>
    public NotificationCoalescing TxCoalescing => _txCoalescing;

    /// <summary>Gets the coalescing of the last <c>NOTF_COAL_RX_SET</c> (zero after reset).</summary>
    public NotificationCoalescing RxCoalescing => _rxCoalescing;

    /// <summary>Gets whether the device asked for an announce and the driver has not acknowledged it yet (<c>VIRTIO_NET_S_ANNOUNCE</c>).</summary>
    public bool AnnouncePending => _announcePending;

    /// <summary>Gets whether a VLAN id is in the filter table.</summary>
    /// <param name="vlanId">The VLAN id, 0..4095.</param>
    /// <returns><see langword="true"/> when present.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vlanId"/> is not below 4096.</exception>
    public bool ContainsVlan(int vlanId)
    {
        if ((uint)vlanId >= 4096)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(vlanId));
        }

        return (_vlans[vlanId >> 6] & (1UL << vlanId)) != 0;
    }

    /// <summary>Gets the number of VLAN ids in the filter table.</summary>
    /// <returns>The count.</returns>
    public int CountVlans()
    {
        int n = 0;
        foreach (ulong w in _vlans)
        {
            ulong v = w;
            while (v != 0)
            {
                v &= v - 1;
                n++;
            }
        }

        return n;
    }

    /// <summary>Gets the coalescing parameters that apply to one transmit or receive virtqueue.</summary>
    /// <param name="queueIndex">The virtqueue index (receiveqN = 2(N−1), transmitqN = 2(N−1)+1).</param>
    /// <returns>The parameters (zero when no coalescing feature was negotiated).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queueIndex"/> is not a transmit or receive queue.</exception>
    public NotificationCoalescing GetQueueCoalescing(int queueIndex)
    {
        if ((uint)queueIndex >= (uint)(2 * MaxQueuePairs))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queueIndex));
        }

        return _queueCoalescing.Length == 0 ? default : _queueCoalescing[queueIndex];
    }

    /// <summary>
    /// Whether a virtqueue is an enabled transmit or receive queue for <c>NOTF_COAL_VQ_*</c>: the pairs in
    /// use, except that under RSS every receive queue up to the maximum may be in the indirection table.
    /// </summary>
    internal bool IsQueueEnabled(int queueIndex)
    {
        if ((uint)queueIndex >= (uint)(2 * MaxQueuePairs))
        {
            return false;
        }

        int pair = queueIndex >> 1;
        bool receive = (queueIndex & 1) == 0;
        return pair < _activePairs || (receive && _steering == ReceiveSteering.Rss);
    }

    /// <summary>A copy to change and then publish (arrays are shared until a writer replaces them).</summary>
    internal NetControlState CloneForUpdate()
    {
        var next = (NetControlState)MemberwiseClone();
        next._version = _version + 1;
        return next;
    }
}
