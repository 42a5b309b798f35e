using System.Runtime.InteropServices;

namespace VirtioRing.Net.Switching;

/// <summary>A snapshot of one port's counters (<see cref="NetSwitchPort.GetCounters"/>).</summary>
/// <remarks>
/// "Received" counts frames the port put into the switch, "forwarded" frames the switch put out of it. Each frame a
/// port sends is counted once in <see cref="ReceivedFrames"/>, however often it is offered again after a
/// <see cref="Backends.NetTransmitStatus.Busy"/>. A drop is counted on the port the reason belongs to: a filter drop on
/// the filter's port, a missing buffer / stopped queue / refused frame on the destination, no route and bad frames from a
/// sender on the sender. Counters of a removed port stop changing.
/// </remarks>
[StructLayout(LayoutKind.Auto)]
public readonly record struct NetSwitchPortCounters
{
    /// <summary>Gets the frames the port sent into the switch.</summary>
    public long ReceivedFrames { get; init; }

    /// <summary>Gets the bytes (without virtio-net headers) of <see cref="ReceivedFrames"/>.</summary>
    public long ReceivedBytes { get; init; }

    /// <summary>Gets how many of the frames the port sent were flooded (broadcast, multicast, unknown unicast).</summary>
    public long FloodedFrames { get; init; }

    /// <summary>Gets how many times a frame the port sent was held for flow control (<see cref="Backends.NetTransmitStatus.Busy"/>).</summary>
    public long HeldFrames { get; init; }

    /// <summary>Gets the frames delivered to the port (one per destination of a flooded frame; segments of a segmented frame count once).</summary>
    public long ForwardedFrames { get; init; }

    /// <summary>Gets the bytes of <see cref="ForwardedFrames"/>.</summary>
    public long ForwardedBytes { get; init; }

    /// <summary>Gets the frames dropped by this port's ingress or egress filter, or refused by its guest's receive filter.</summary>
    public long DroppedFiltered { get; init; }

    /// <summary>Gets the frames to this port dropped because it had no receive buffers or was busy (drop mode only).</summary>
    public long DroppedNoBuffers { get; init; }

    /// <summary>Gets the frames from this port with nowhere to go (its own address, or no other port).</summary>
    public long DroppedNoRoute { get; init; }

    /// <summary>Gets the frames to this port dropped because its queue was down (not attached, not running, removed), and frames it sent after removal.</summary>
    public long DroppedQueueDown { get; init; }

    /// <summary>Gets the bad frames: runts from this port, and frames to it that it refused or that could not be segmented for it.</summary>
    public long DroppedBadFrame { get; init; }

    /// <summary>Gets the frames from this port whose new source address was not learned (the port holds its
    /// <see cref="NetSwitchPort.MaxLearnedAddresses"/>, or the MAC table was full); the frames were forwarded.</summary>
    public long LearningRefused { get; init; }
}
