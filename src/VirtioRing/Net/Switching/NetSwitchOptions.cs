using System;

namespace VirtioRing.Net.Switching;

/// <summary>Settings of a <see cref="NetSwitch"/>; fixed when the switch is created.</summary>
public sealed class NetSwitchOptions
{
    /// <summary>The most ports a switch can have: port sets are 64-bit masks on the hot path.</summary>
    public const int MaxPortLimit = 64;

    /// <summary>Gets the flow control toward destinations that cannot take a frame now (default <see cref="NetSwitchFlowControl.Lossless"/>).</summary>
    public NetSwitchFlowControl FlowControl { get; init; } = NetSwitchFlowControl.Lossless;

    /// <summary>Gets which receive queue of a guest port a frame goes to (default <see cref="NetSwitchSteering.Flow"/>: the
    /// receiving device steers). A per-MAC peer binding (<see cref="NetSwitch.BindPeerQueues"/>) takes precedence over either.</summary>
    public NetSwitchSteering GuestSteering { get; init; } = NetSwitchSteering.Flow;

    /// <summary>Gets how long a learned MAC address stays bound to its port without traffic from it (default 300 s, as IEEE 802.1D);
    /// <see cref="TimeSpan.MaxValue"/> never ages.</summary>
    public TimeSpan MacAgingTime { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Gets the most ports (guests and backends) at once, 2 to <see cref="MaxPortLimit"/> (default 64).</summary>
    public int MaxPorts { get; init; } = MaxPortLimit;

    /// <summary>Gets the most learned MAC addresses the table holds, 1 to 2^20 (default 4096); when it is full, expired
    /// entries are swept and new addresses are not learned (their frames are flooded). The ports' static addresses have
    /// room of their own (one per port), so learning never keeps a port from being added.</summary>
    public int MacTableCapacity { get; init; } = 4096;

    /// <summary>Gets the most learned MAC addresses one port may hold (its <see cref="NetSwitchPort.MaxLearnedAddresses"/>
    /// when added), 0 to 2^20, or null (the default) for <see cref="MacTableCapacity"/> / <see cref="MaxPorts"/>
    /// (at least 1; 64 with the defaults).</summary>
    /// <remarks>
    /// A port at its limit learns no new source address (nor an address moving to it): its frames are still forwarded,
    /// and counted in <see cref="NetSwitchPortCounters.LearningRefused"/>; frames to such an address are flooded. This
    /// keeps a guest that sends from random source addresses from filling the table, which would make the switch flood
    /// other guests' unicast traffic (to every port, the hostile guest's included) and stop learning theirs. While the
    /// limits of all ports add up to at most <see cref="MacTableCapacity"/> (as the default does), no port can crowd
    /// another out; raise one trusted port's limit (a TAP bridging a LAN) with <see cref="NetSwitchPort.MaxLearnedAddresses"/>.
    /// </remarks>
    public int? MaxLearnedAddressesPerPort { get; init; }

    /// <summary>Gets the default number of backend queues of a guest port, 1 to 32768 (default 64).</summary>
    /// <remarks>
    /// A device binds its queue pair <c>p</c> to port queue <c>p % QueueCount</c>. Give at least the guest's queue-pair
    /// count: pairs that share a port queue are driven by different workers, and the switch keeps one sender's state
    /// (the batch, the frame held for flow control) per port queue, so sharing relies on the device serialising those
    /// pairs. The default covers every device of up to 64 pairs (the in-process guest's limit); a queue costs a small
    /// object (and its counters, a few hundred bytes) created on its first frame, so unused queues cost one array slot.
    /// </remarks>
    public int GuestPortQueues { get; init; } = 64;

    /// <summary>Gets the clock for MAC aging (default: <see cref="System.Diagnostics.Stopwatch"/>).</summary>
    public INetSwitchClock? Clock { get; init; }

    /// <summary>
    /// Gets the name of a <see cref="System.Diagnostics.Metrics.Meter"/> the per-port counters are published through
    /// (observable counters read at collection time), or <see langword="null"/> (the default) for none. A switch with a
    /// meter should be disposed to unregister it.
    /// </summary>
    public string? MeterName { get; init; }
}
