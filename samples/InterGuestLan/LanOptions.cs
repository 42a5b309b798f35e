using System.Collections.Generic;

namespace InterGuestLan;

/// <summary>What one run of the sample does, as parsed from the command line.</summary>
/// <param name="Guests">The number of in-process guests on the switch.</param>
/// <param name="Pairs">The queue pairs of each guest (all made active through the control queue).</param>
/// <param name="FrameSize">The Ethernet frame length of every frame (without TSO).</param>
/// <param name="Tso">Whether guests send 64 KiB TCP/IPv4 TSO super-frames instead.</param>
/// <param name="NoGuestTso">The guests whose drivers do not accept <c>GUEST_TSO4/6</c>.</param>
/// <param name="DurationSeconds">How long the guests send.</param>
/// <param name="MaxFrames">The most frames each guest sends (0: no limit but the duration).</param>
/// <param name="Packed">Whether the rings are packed (otherwise split).</param>
/// <param name="Lossless">Whether the switch holds frames for a full receiver (otherwise it drops and counts them).</param>
/// <param name="QueueSize">The ring size of every receive and transmit queue.</param>
internal sealed record LanOptions(
    int Guests,
    int Pairs,
    int FrameSize,
    bool Tso,
    IReadOnlyList<int> NoGuestTso,
    int DurationSeconds,
    long MaxFrames,
    bool Packed,
    bool Lossless,
    int QueueSize)
{
    /// <summary>The flows each guest sends to each other guest (different UDP/TCP ports, so the flow hash spreads them over the pairs).</summary>
    public int FlowsPerPeer => 8 * Pairs;

    /// <summary>Gets whether guest <paramref name="guest"/> accepts <c>GUEST_TSO4/6</c>.</summary>
    /// <param name="guest">The guest id.</param>
    /// <returns><see langword="true"/> unless it is listed in <see cref="NoGuestTso"/>.</returns>
    public bool HasGuestTso(int guest)
    {
        foreach (int g in NoGuestTso)
        {
            if (g == guest)
            {
                return false;
            }
        }

        return true;
    }
}
