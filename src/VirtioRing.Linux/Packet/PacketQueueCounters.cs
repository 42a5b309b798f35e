using System.Diagnostics;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Packet;

/// <summary>A snapshot of one <see cref="PacketSocketBackend"/> queue's counters (<see cref="PacketSocketBackend.GetCounters"/>).</summary>
[DebuggerDisplay("rx {ReceivedFrames} tx {TransmittedFrames}, faulted = {IsFaulted}")]
public readonly struct PacketQueueCounters
{
    /// <summary>Gets the frames delivered to the host (written into the guest's receive buffers).</summary>
    public long ReceivedFrames { get; init; }

    /// <summary>Gets the bytes of <see cref="ReceivedFrames"/> (Ethernet header onwards, no virtio-net header).</summary>
    public long ReceivedBytes { get; init; }

    /// <summary>Gets the received frames the <see cref="PacketSocketOptions.Filter"/> dropped.</summary>
    public long ReceiveFiltered { get; init; }

    /// <summary>Gets the received frames the host's receive filter refused (MAC, VLAN, multicast modes of the guest).</summary>
    public long ReceiveHostFiltered { get; init; }

    /// <summary>Gets the received frames the host refused as bad (an offload it cannot adapt, too long for the guest).</summary>
    public long ReceiveBadFrame { get; init; }

    /// <summary>Gets the received frames dropped because the host's receive queue was down (broken, stopped).</summary>
    public long ReceiveQueueDown { get; init; }

    /// <summary>Gets the received frames the kernel truncated (longer than a ring block holds: raise <see cref="PacketSocketOptions.BlockSize"/>).</summary>
    public long ReceiveTruncated { get; init; }

    /// <summary>Gets the ring entries that were not well-formed (offsets outside their block; never seen from a correct kernel).</summary>
    public long ReceiveMalformed { get; init; }

    /// <summary>Gets how many times receiving stopped because the guest had no receive buffers (the frame stayed in the ring).</summary>
    public long ReceiveNoBuffers { get; init; }

    /// <summary>Gets the frames the kernel dropped because the ring was full (<c>PACKET_STATISTICS</c> <c>tp_drops</c>, accumulated).</summary>
    public long KernelDrops { get; init; }

    /// <summary>Gets the frames handed to the kernel.</summary>
    public long TransmittedFrames { get; init; }

    /// <summary>Gets the bytes of <see cref="TransmittedFrames"/> (Ethernet header onwards).</summary>
    public long TransmittedBytes { get; init; }

    /// <summary>Gets how many times a send answered busy (<c>EAGAIN</c>: socket buffer full; <c>ENOBUFS</c>: device queue full) and was retried later.</summary>
    public long TransmitBusy { get; init; }

    /// <summary>Gets the transmitted frames the <see cref="PacketSocketOptions.Filter"/> dropped.</summary>
    public long TransmitFiltered { get; init; }

    /// <summary>Gets the transmitted frames the kernel refused as too long (<c>EMSGSIZE</c>: over the MTU without a segmentation request).</summary>
    public long TransmitTooLong { get; init; }

    /// <summary>Gets the transmitted frames the kernel refused as invalid (<c>EINVAL</c>: a virtio-net header it does not accept, a runt frame).</summary>
    public long TransmitInvalid { get; init; }

    /// <summary>Gets the transmitted frames dropped because the interface was down (<c>ENETDOWN</c> while it still exists).</summary>
    public long TransmitLinkDown { get; init; }

    /// <summary>Gets the transmitted frames dropped because the queue had failed for good (the interface was deleted).</summary>
    public long TransmitFaulted { get; init; }

    /// <summary>Gets the transmitted frames dropped for any other error of <c>sendmsg</c>.</summary>
    public long TransmitErrors { get; init; }

    /// <summary>Gets whether the queue failed for good (its interface is gone; reported once through <see cref="INetBackendHost.ReportFault"/>).</summary>
    public bool IsFaulted { get; init; }
}
