namespace VirtioRing.Net.Switching;

/// <summary>Which receive queue of a guest port the switch delivers a frame to (when no per-MAC peer binding names one).</summary>
public enum NetSwitchSteering
{
    /// <summary>
    /// The receiving device steers (its RSS configuration, else the virtio automatic receive steering of virtio 1.2
    /// §5.1.6.5.6, which follows the flow back to the queue pair the guest last sent it on, else queue 0). The default.
    /// </summary>
    Flow = 0,

    /// <summary>
    /// Queue affinity, as DPDK's io forwarding lays queues out: a frame the sender sent on its queue <c>i</c> goes to the
    /// receiver's queue pair <c>i</c> modulo the receiver's active pairs, whatever its flow (the receiver's RSS and
    /// automatic steering are not consulted). Spreads one busy flow of a multi-queue sender over the receiver's queues,
    /// so each sending queue has a receive queue of its own; the guest sees its flows arrive on queues it did not choose.
    /// </summary>
    QueueAffinity,
}
