using System.Diagnostics;
using VirtioRing.Net;

namespace VirtioRing.Linux.Packet;

/// <summary>How a <see cref="PacketSocketBackend"/> attaches to a network interface.</summary>
[DebuggerDisplay("{Interface}, {Queues} queue(s), {BlockCount} x {BlockSize} B ring")]
public sealed class PacketSocketOptions
{
    /// <summary>The offloads carried when <see cref="Offloads"/> is not set: all that <c>PACKET_VNET_HDR</c> passes both ways (not the hash report).</summary>
    public const NetOffloads DefaultOffloads =
        NetOffloads.Checksum | NetOffloads.Tso4 | NetOffloads.Tso6 | NetOffloads.Ecn | NetOffloads.Ufo | NetOffloads.Uso4 | NetOffloads.Uso6;

    /// <summary>Gets the name of the interface to attach to (an SR-IOV VF, a physical port, a veth end), in the network namespace of the thread that creates the backend.</summary>
    public required string Interface { get; init; }

    /// <summary>Gets the number of backend queues: one packet socket each, joined in one <c>PACKET_FANOUT_HASH</c> group so each socket gets whole flows (1..64).</summary>
    public int Queues { get; init; } = 1;

    /// <summary>Gets whether the interface is put in promiscuous mode (<c>PACKET_MR_PROMISC</c> membership, dropped when the backend is disposed): the guest has its own MAC address, which the NIC would otherwise filter out.</summary>
    public bool Promiscuous { get; init; } = true;

    /// <summary>
    /// Gets the size of each block of a queue's <c>TPACKET_V3</c> receive ring in bytes: a power of two, at least a
    /// page. A received frame must fit in one block with its headers (about 100 bytes): frames the kernel passes up
    /// whole (GRO/GSO super-frames of up to 64 KiB, with the offloads on) need blocks of 128 KiB or more; longer frames
    /// are truncated by the kernel and dropped here (<see cref="PacketQueueCounters.ReceiveTruncated"/>).
    /// </summary>
    public int BlockSize { get; init; } = 256 * 1024;

    /// <summary>Gets the number of blocks of a queue's receive ring (2 or more; the ring takes <see cref="BlockSize"/> × <see cref="BlockCount"/> bytes of kernel memory per queue).</summary>
    public int BlockCount { get; init; } = 16;

    /// <summary>Gets the nominal frame size of the ring (a multiple of 16 dividing <see cref="BlockSize"/>; <c>TPACKET_V3</c> packs frames of any size, so this only sizes the kernel's bookkeeping).</summary>
    public int FrameSize { get; init; } = 2048;

    /// <summary>
    /// Gets after how many milliseconds the kernel hands a block that is not full to user space (<c>tp_retire_blk_tov</c>,
    /// 1 or more). This bounds the latency a frame can wait in the ring at low load; the kernel runs a timer at this
    /// period per queue.
    /// </summary>
    public int BlockTimeoutMilliseconds { get; init; } = 1;

    /// <summary>
    /// Gets the fanout group id the queue sockets share, or <see langword="null"/> to let the kernel pick one no other
    /// socket of the network namespace uses (<c>PACKET_FANOUT_FLAG_UNIQUEID</c>). A fixed id joins whatever group
    /// already has it (another process's sockets on the same interface with the same mode): use it only to share
    /// traffic on purpose.
    /// </summary>
    public ushort? FanoutGroupId { get; init; }

    /// <summary>Gets the filter applied to every frame in both directions, or <see langword="null"/> for none (see <see cref="IPacketSocketFilter"/>: the host firewall does not see this traffic).</summary>
    public IPacketSocketFilter? Filter { get; init; }

    /// <summary>Gets the offloads the backend declares to the engine (masked to <see cref="DefaultOffloads"/>): the guest is offered only these, the engine completes the rest in software.</summary>
    public NetOffloads Offloads { get; init; } = DefaultOffloads;

    /// <summary>Gets whether sends skip the interface's queueing discipline (<c>PACKET_QDISC_BYPASS</c>: faster, but no traffic shaping and a full driver queue drops).</summary>
    public bool BypassQdisc { get; init; }
}
