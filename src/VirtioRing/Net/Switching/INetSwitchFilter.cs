using VirtioRing.Net.Backends;

namespace VirtioRing.Net.Switching;

/// <summary>
/// A host firewall hook on a switch port (<see cref="NetSwitchPort.IngressFilter"/> for frames the port sends,
/// <see cref="NetSwitchPort.EgressFilter"/> for frames going to it): guest-to-guest traffic never passes the host's
/// network stack, so this is where the host can filter it after all.
/// </summary>
/// <remarks>
/// Called on the sender's thread (any number of threads at once), once per destination port a frame goes to (a flooded
/// frame is inspected once per destination), before the frame is copied. It must be quick, must not block, and must not
/// keep the frame. A frame held for flow control and offered again is inspected again for the destinations it has not yet
/// reached.
/// </remarks>
public interface INetSwitchFilter
{
    /// <summary>Decides whether a frame may go from <paramref name="source"/> to <paramref name="destination"/>.</summary>
    /// <param name="frame">The frame (Ethernet header onwards; hostile guest data: parse defensively).</param>
    /// <param name="source">The port it came in on.</param>
    /// <param name="destination">The port it would go out of.</param>
    /// <returns><see cref="NetSwitchFilterVerdict.Accept"/> or <see cref="NetSwitchFilterVerdict.Drop"/>.</returns>
    NetSwitchFilterVerdict Inspect(in NetFrame frame, NetSwitchPort source, NetSwitchPort destination);
}
