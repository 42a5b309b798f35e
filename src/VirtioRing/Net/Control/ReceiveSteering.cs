namespace VirtioRing.Net.Control;

/// <summary>How the device picks a receive queue (virtio 1.2 §5.1.6.5.5): the last MQ command decides.</summary>
public enum ReceiveSteering
{
    /// <summary>Automatic receive steering (<c>VIRTIO_NET_F_MQ</c>, <c>VQ_PAIRS_SET</c>, §5.1.6.5.6); the default.</summary>
    Automatic = 0,

    /// <summary>Receive-side scaling with the Toeplitz hash and indirection table of <c>RSS_CONFIG</c> (§5.1.6.5.7).</summary>
    Rss = 1,
}
