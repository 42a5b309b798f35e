using System.Globalization;
using System.Text;
using VirtioRing.Linux.Packet;
using VirtioRing.Net.Backends;

namespace VirtioRing.Benchmarks.Linux;

/// <summary>
/// Guest → <see cref="PacketSocketBackend"/> on one end of a veth pair → the other end (the kernel sink); peer: DPDK's
/// <c>net_af_packet</c> on the same veth end in <c>txonly</c>. See <see cref="TransmitBenchmarks"/>.
/// </summary>
public class PacketTransmitBenchmarks : TransmitBenchmarks
{
    /// <inheritdoc/>
    protected override string Label => "packet tx";

    /// <inheritdoc/>
    protected override string SinkInterface => VethSetup.Peer;

    /// <inheritdoc/>
    protected override INetBackend CreateBackend(int queues, int frameLength) => VethSetup.Create(queues, frameLength);

    /// <inheritdoc/>
    protected override void DestroyBackend(INetBackend backend) => VethSetup.Destroy((PacketSocketBackend)backend);

    /// <inheritdoc/>
    protected override string Describe(INetBackend backend) => VethSetup.Describe((PacketSocketBackend)backend);
}

/// <summary>
/// Kernel → veth → <see cref="PacketSocketBackend"/> (TPACKET_V3 ring) → in-process guest; peer: DPDK's
/// <c>net_af_packet</c> on the same veth end in <c>rxonly</c>. The generator sends into the other end.
/// See <see cref="ReceiveBenchmarks"/>.
/// </summary>
public class PacketReceiveBenchmarks : ReceiveBenchmarks
{
    /// <inheritdoc/>
    protected override string Label => "packet rx";

    /// <inheritdoc/>
    protected override string SourceInterface => VethSetup.Peer;

    /// <inheritdoc/>
    /// <remarks>The backend's veth end: "rx" is every frame that arrived there (the ring's own drops are in the backend's counters).</remarks>
    protected override string CountedInterface => VethSetup.End;

    /// <inheritdoc/>
    protected override INetBackend CreateBackend(int queues, int frameLength) => VethSetup.Create(queues, frameLength);

    /// <inheritdoc/>
    protected override void DestroyBackend(INetBackend backend) => VethSetup.Destroy((PacketSocketBackend)backend);

    /// <inheritdoc/>
    protected override string Describe(INetBackend backend) => VethSetup.Describe((PacketSocketBackend)backend);
}

/// <summary>The veth pair the packet-socket cases use: <see cref="End"/> for the backend, <see cref="Peer"/> the kernel side (10.199.0.1/24).</summary>
internal static class VethSetup
{
    /// <summary>The backend's end.</summary>
    public const string End = "vrbpa";

    /// <summary>The kernel's end.</summary>
    public const string Peer = "vrbpb";

    /// <summary>Creates the pair and the backend on <see cref="End"/>.</summary>
    /// <remarks>
    /// Sends skip the qdisc (<c>PACKET_QDISC_BYPASS</c>, as DPDK's af_packet by default) except for 64 KiB TSO frames:
    /// a packet socket's GSO frames are <c>SKB_GSO_DODGY</c>, the veth (no <c>tx-gso-robust</c>) has them segmented
    /// in <c>validate_xmit_skb</c>, and the direct path drops any frame that step changes (<c>__dev_direct_xmit</c>) —
    /// every send fails with <c>ENOBUFS</c>, which the backend takes for "busy" and retries forever.
    /// </remarks>
    public static PacketSocketBackend Create(int queues, int frameLength)
    {
        BenchNamespace.Ip("link", "add", End, "type", "veth", "peer", "name", Peer);
        try
        {
            BenchNamespace.Ip("link", "set", "dev", End, "up");
            BenchNamespace.Ip("link", "set", "dev", Peer, "up");
            BenchNamespace.Ip("addr", "add", "10.199.0.1/24", "dev", Peer);

            return new PacketSocketBackend(new PacketSocketOptions { Interface = End, Queues = queues, BypassQdisc = frameLength <= 1514 });
        }
        catch
        {
            BenchNamespace.Ip("link", "del", End);
            throw;
        }
    }

    public static void Destroy(PacketSocketBackend backend)
    {
        backend.Dispose();
        BenchNamespace.Ip("link", "del", End);
    }

    public static string Describe(PacketSocketBackend backend)
    {
        var text = new StringBuilder("packet");
        for (int q = 0; q < backend.QueueCount; q++)
        {
            PacketQueueCounters c = backend.GetCounters(q);
            text.Append(CultureInfo.InvariantCulture, $" q{q}: tx {c.TransmittedFrames} busy {c.TransmitBusy}, rx {c.ReceivedFrames} kernel drops {c.KernelDrops} no-buffers {c.ReceiveNoBuffers} truncated {c.ReceiveTruncated};");
        }

        return text.ToString();
    }
}
