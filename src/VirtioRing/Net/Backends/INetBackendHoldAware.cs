namespace VirtioRing.Net.Backends;

/// <summary>
/// An optional extension of <see cref="INetBackend"/> for backends that keep state about a frame they answered
/// <see cref="NetTransmitStatus.Busy"/> for (the peer-guest switch remembers which ports already got it, so the frame
/// offered again goes only to the others). The engine tells such a backend when it gives the held frame up.
/// </summary>
/// <remarks>
/// Without this call a backend can only guess whether the next frame is the held one offered again or a new frame
/// that happens to look the same (after a device reset the guest may well send the very same frame again).
/// </remarks>
public interface INetBackendHoldAware
{
    /// <summary>
    /// Tells the backend that the frame it answered <see cref="NetTransmitStatus.Busy"/> for on <paramref name="queue"/>
    /// will not be offered again (the engine forgot the held chain: a device or queue reset, the queue rebound): the next
    /// frame on that queue is a new frame. Harmless when nothing is held.
    /// </summary>
    /// <param name="queue">The backend queue.</param>
    /// <remarks>Called like <see cref="INetBackend.Transmit"/>: by the thread that drives the queue, or while no thread does.</remarks>
    void AbandonHeld(int queue);
}
