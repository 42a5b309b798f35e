namespace VirtioRing.Net.Driver;

/// <summary>Why a <see cref="NetDriver"/> queue stopped: what the device did wrong (or a control command that got no answer).</summary>
public enum NetDriverFault
{
    /// <summary>No fault.</summary>
    None = 0,

    /// <summary>The driver queue itself broke (a bad used id, length or index); its <see cref="Queues.IDriverQueue.Fault"/> says which.</summary>
    QueueBroken,

    /// <summary>Receive: <c>num_buffers</c> is 0 or more than the queue could have used for one frame (§5.1.6.4).</summary>
    BadBufferCount,

    /// <summary>Receive: a frame's first buffer was used with fewer bytes than the virtio-net header.</summary>
    ShortFrame,

    /// <summary>Control: the device did not answer a command within <see cref="NetDriverOptions.ControlTimeout"/>.</summary>
    ControlTimeout,
}
