using System;
using System.Diagnostics;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// Each flow (addresses, ports, protocol) on one transmit queue, flows spread over the active queues: no
/// reordering within a flow, and the load of many flows shared. The right default for general traffic.
/// </summary>
/// <remarks>
/// <para>Two hashes. The default is a cheap symmetric flow hash mapped onto the active pairs. Built from an
/// <see cref="RssConfiguration"/>, the selector is reply-aligned: it computes the Toeplitz hash the device will
/// compute for the flow's replies (source and destination swapped) and transmits on the pair whose receive
/// queue the indirection table picks, so a flow's transmit and receive completions share a pair (and a CPU,
/// where pairs are bound to CPUs). A receive queue beyond the active pairs falls back to the hash.</para>
/// <para>Frames that are not IPv4/IPv6 (ARP, LLDP, …) go to transmitq1. Immutable and thread-safe.</para>
/// </remarks>
[DebuggerDisplay("FlowHash {(_rss is null ? \"symmetric\" : \"reply-aligned RSS\")}")]
public sealed class FlowHashTxQueueSelector : ITxQueueSelector
{
    private readonly RssSteering? _rss;

    /// <summary>Creates a selector with the cheap symmetric flow hash.</summary>
    public FlowHashTxQueueSelector()
    {
    }

    /// <summary>Creates a reply-aligned selector for the RSS configuration the device applies.</summary>
    /// <param name="rss">The device's RSS configuration.</param>
    /// <exception cref="ArgumentNullException"><paramref name="rss"/> is null.</exception>
    public FlowHashTxQueueSelector(RssConfiguration rss)
    {
        if (rss is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(rss));
        }

        _rss = rss.Steering;
    }

    /// <inheritdoc/>
    public ushort SelectTransmitQueue(ReadOnlySpan<byte> frame, ushort activePairs)
    {
        if (activePairs == 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(activePairs), "At least one pair is active.");
        }

        if (activePairs == 1 || !FrameParser.TryParse(frame, out ParsedFrame parsed))
        {
            return 0;
        }

        if (_rss is null || !_rss.HashCalculator.IsEnabled)
        {
            return FlowHash.Reduce(FlowHash.Symmetric(frame, in parsed), activePairs);
        }

        NetHashResult reply = _rss.HashCalculator.CalculateParsed(frame, in parsed, reverse: true);
        ushort queue = _rss.SelectReceiveQueue(reply);
        return queue < activePairs ? queue : FlowHash.Reduce(FlowHash.Symmetric(frame, in parsed), activePairs);
    }
}
