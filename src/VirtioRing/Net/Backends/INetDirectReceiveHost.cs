namespace VirtioRing.Net.Backends;

/// <summary>
/// A host that lends a receive queue's buffers for a backend to fill in place: the backend's source
/// (a TAP's <c>readv</c>) writes each frame straight into guest memory, so the kernel's copy is the
/// only copy. <see cref="Engine.NetDevice"/> implements it; a backend whose host does not (the
/// peer-guest switch) delivers through <see cref="INetBackendHost.Deliver"/> instead.
/// </summary>
public interface INetDirectReceiveHost
{
    /// <summary>
    /// Receives up to <paramref name="budget"/> frames of backend queue <paramref name="queue"/> straight
    /// into the guest's receive buffers. Call it only from <see cref="INetBackend.Receive"/> (the pair's
    /// worker: one thread per backend queue).
    /// </summary>
    /// <remarks>
    /// <para>For each frame the host holds buffers with room for the longest frame the guest accepts
    /// (the MTU, or 64 KiB with receive GSO), lets <paramref name="reader"/> fill them, then reads the
    /// virtio-net header the source wrote, applies the receive filter, masks the flags the guest did not
    /// negotiate, writes <c>num_buffers</c> (and the hash report when negotiated), and pushes only the
    /// buffers the frame used; the rest stay held for the next frame. Nothing the source wrote is
    /// trusted: a frame shorter than a header and an Ethernet header, or longer than the buffers, is
    /// dropped and counted.</para>
    /// <para>A frame that needs more than the guest's buffers can carry as they are — offload adaptation
    /// (segmentation, checksum completion for a guest without <c>GUEST_CSUM</c>) or RSS steering to
    /// another queue — is copied and delivered as <see cref="INetBackendHost.Deliver"/> would.</para>
    /// </remarks>
    /// <param name="queue">The backend queue (the host maps it onto its active queue pairs).</param>
    /// <param name="reader">Reads one frame per call into the lent buffers.</param>
    /// <param name="budget">The most frames to receive (1 or more).</param>
    /// <returns>Why the call stopped, how many frames it took from the source, and the receive queue.</returns>
    NetDirectReceiveResult ReceiveDirect(int queue, INetDirectReader reader, int budget);
}
