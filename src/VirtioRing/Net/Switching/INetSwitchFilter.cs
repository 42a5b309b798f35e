using VirtioRing.Net.Backends;

namespace VirtioRing.Net.Switching;

/// <summary>
/// A host firewall hook on a switch port (<see cref="NetSwitchPort.IngressFilter"/> for frames the port sends,
/// <see cref="NetSwitchPort.EgressFilter"/> for frames going to it): guest-to-guest traffic never passes the host's
/// network stack, so this is where the host can filter it after all.
/// </summary>
/// <remarks>
/// <para>Called on the sender's thread (any number of threads at once), once per destination port a frame goes to (a
/// flooded frame is inspected once per destination). It must be quick, must not block, and must not keep the frame. A
/// frame held for flow control and offered again is inspected again for the destinations it has not yet reached.</para>
/// <para><b>A filter sees a private copy.</b> A guest's frame lives in its own memory, which its other vCPUs may rewrite
/// at any time, so a check on those bytes would not hold for the bytes delivered. While any port of the switch has a
/// filter, the switch therefore copies each frame a guest sends once, before it reads the addresses, and learns from,
/// routes, filters and delivers that copy (a frame longer than 64 KiB + 512 bytes is then dropped as a bad frame).
/// With no filter installed, frames go from the sender's chain to the receivers without the extra copy. Frames an
/// external backend port delivers are in host memory and are inspected where they are. A frame offered again after
/// <see cref="NetTransmitStatus.Busy"/> is copied again, so destinations reached on different offers may see
/// different bytes, each the bytes its filters accepted.</para>
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
