namespace VirtioRing.Net.Driver;

/// <summary>The outcome of a <see cref="NetDriver"/> send or receive.</summary>
public enum NetDriverStatus
{
    /// <summary>The frame was sent (queued for the device) or received.</summary>
    Ok = 0,

    /// <summary>Receive: no frame is waiting.</summary>
    Empty,

    /// <summary>Send: no free transmit buffer or descriptor even after reclaiming completed ones; try again later.</summary>
    QueueFull,

    /// <summary>Receive: the destination is shorter than the waiting frame; the frame stays waiting and the length says how long it is.</summary>
    DestinationTooSmall,

    /// <summary>The queue faulted (the device broke the ring or returned inconsistent buffers); see <see cref="NetDriver.GetFault"/>. It stays so.</summary>
    Faulted,
}
