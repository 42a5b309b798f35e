namespace VirtioRing.Net.Backends;

/// <summary>What happened to a frame delivered toward a guest.</summary>
public enum NetDeliveryStatus
{
    /// <summary>Written into the guest's receive buffers.</summary>
    Delivered = 0,

    /// <summary>The receive queue has no (or not enough) buffers; nothing was written.</summary>
    NoBuffers,

    /// <summary>The guest's receive filter (MAC, VLAN, promiscuous and multicast modes) refused it.</summary>
    Filtered,

    /// <summary>The frame itself is bad (its header asks for an offload that cannot be done on it, or it is too long).</summary>
    BadFrame,

    /// <summary>The receive queue is broken or not running (not enabled, device stopped).</summary>
    QueueDown,
}
