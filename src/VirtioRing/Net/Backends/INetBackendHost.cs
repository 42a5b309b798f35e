using System;

namespace VirtioRing.Net.Backends;

/// <summary>
/// The side a backend delivers received frames to: a virtio-net device engine (which writes the
/// frame into the guest's receive buffers) or the peer-guest switch (which forwards it).
/// </summary>
/// <remarks><see cref="Deliver"/> may be called from any thread; implementations serialise per receive queue.</remarks>
public interface INetBackendHost
{
    /// <summary>Gets the offloads the receiving side accepts as they are (a frame asking for more is completed or segmented on the way).</summary>
    NetOffloads ReceiveOffloads { get; }

    /// <summary>
    /// Delivers a frame toward the guest: receive filter, queue steering (RSS, automatic steering,
    /// or the hint), offload adaptation, then one copy into receive buffers. What was delivered
    /// becomes visible to the guest at the next <see cref="FlushDeliveries"/> (or when the call
    /// comes from the device's own worker, at the end of its batch).
    /// </summary>
    /// <param name="queueHint">The receive queue to use, or -1 to let the host steer.</param>
    /// <param name="frame">The frame.</param>
    /// <returns>What happened, and on which receive queue.</returns>
    NetDeliveryResult Deliver(int queueHint, in NetFrame frame);

    /// <summary>Publishes everything delivered through <see cref="Deliver"/> and not yet published (by any thread), and notifies the guest as its suppression rules ask.</summary>
    void FlushDeliveries();

    /// <summary>
    /// Asks to be woken (through <paramref name="waiter"/>) when receive queue
    /// <paramref name="queue"/> gets buffers again, after a delivery answered
    /// <see cref="NetDeliveryStatus.NoBuffers"/>.
    /// </summary>
    /// <param name="queue">The receive queue from the <see cref="NetDeliveryResult"/>.</param>
    /// <param name="waiter">Called once when buffers appear (or the queue stops).</param>
    /// <returns><see langword="true"/> when buffers are already there: retry now instead of waiting.</returns>
    bool WaitForReceiveBuffers(int queue, INotifier waiter);

    /// <summary>Tells the host that a backend queue has frames to receive or room to transmit again (wakes the pair's worker).</summary>
    /// <param name="queue">The backend queue.</param>
    void Wake(int queue);

    /// <summary>
    /// Tells the host that a backend queue failed for good (its TAP was deleted, its interface went
    /// away): the host stops using it — frames the guest sends on it are dropped and counted, it is no
    /// longer asked to receive — and reports <paramref name="failure"/> to its owner. The backend calls it
    /// once per queue instead of throwing from <see cref="INetBackend.Transmit"/> or <see cref="INetBackend.Receive"/>.
    /// </summary>
    /// <param name="queue">The backend queue.</param>
    /// <param name="failure">What failed, for the owner (a <c>LinuxException</c> with the errno and its text).</param>
    void ReportFault(int queue, Exception failure);
}
