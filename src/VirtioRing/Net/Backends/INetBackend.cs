namespace VirtioRing.Net.Backends;

/// <summary>
/// Where a virtio-net device's traffic goes: a TAP device, a packet socket on a NIC, a port of the
/// peer-guest switch, an in-memory loopback. The device engine hands it each transmitted frame
/// (<see cref="Transmit"/>) and lets it deliver received frames (<see cref="Receive"/>, or at any
/// time through <see cref="INetBackendHost.Deliver"/>).
/// </summary>
/// <remarks>
/// <para>Queues: the backend has <see cref="QueueCount"/> queues; the engine binds its queue pair
/// <c>p</c> to backend queue <c>p % QueueCount</c> and calls <see cref="Transmit"/>,
/// <see cref="FlushTransmit"/> and <see cref="Receive"/> for one backend queue from one thread at a
/// time (the pair's worker).</para>
/// <para>Readiness: a backend never makes the engine poll while idle. When frames are waiting to be
/// received, or a queue that answered <see cref="NetTransmitStatus.Busy"/> can take frames again,
/// it calls <see cref="INetBackendHost.Wake"/> for that queue.</para>
/// </remarks>
public interface INetBackend
{
    /// <summary>Gets the offloads the backend carries in both directions (the engine offers the guest only those, plus what it completes in software).</summary>
    NetOffloads Offloads { get; }

    /// <summary>Gets the number of backend queues (1 or more).</summary>
    int QueueCount { get; }

    /// <summary>Binds the backend to the device that will drive it; called once, before any other call.</summary>
    /// <param name="host">The device (or switch) frames are delivered to.</param>
    void Attach(INetBackendHost host);

    /// <summary>Ends the binding: no call follows, and the backend stops calling the host.</summary>
    void Detach();

    /// <summary>
    /// Takes a frame the guest transmitted, with its offload requests in <see cref="NetFrame.Header"/>
    /// (already validated against the negotiated features). The frame's memory goes back to the
    /// guest when the call returns.
    /// </summary>
    /// <param name="queue">The backend queue.</param>
    /// <param name="frame">The frame.</param>
    /// <returns>
    /// <see cref="NetTransmitStatus.Sent"/> when the frame was taken; <see cref="NetTransmitStatus.Busy"/>
    /// when it cannot be taken now (the engine holds it, stops this queue, and offers the same frame
    /// again after <see cref="INetBackendHost.Wake"/>); <see cref="NetTransmitStatus.Dropped"/> when
    /// it was refused for good (counted, not retried).
    /// </returns>
    NetTransmitStatus Transmit(int queue, in NetFrame frame);

    /// <summary>Ends a batch of <see cref="Transmit"/> calls on a queue (flush buffered writes, publish what was delivered to peers).</summary>
    /// <param name="queue">The backend queue.</param>
    void FlushTransmit(int queue);

    /// <summary>
    /// Delivers up to <paramref name="budget"/> waiting frames of a queue to the host (through
    /// <see cref="INetBackendHost.Deliver"/>); called by the pair's worker after a wake-up.
    /// </summary>
    /// <param name="queue">The backend queue.</param>
    /// <param name="budget">The most frames to deliver in this call.</param>
    /// <returns>The number of frames delivered or dropped; 0 when nothing is waiting (or the backend only pushes).</returns>
    int Receive(int queue, int budget);
}
