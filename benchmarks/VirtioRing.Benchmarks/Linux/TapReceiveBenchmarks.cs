using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using VirtioRing.Linux.Tap;
using VirtioRing.Net.Engine;

namespace VirtioRing.Benchmarks.Linux;

/// <summary>
/// Kernel → TAP → in-process guest, the peer being DPDK's <c>net_tap</c> in testpmd <c>rxonly</c> (same generator,
/// same namespace setup, measured by <c>benchmarks/linux/tap-vs-dpdk.sh</c> in the same run). <c>vrb-gen</c> on
/// <see cref="BenchNamespace.OtherCpu"/> sends frames into the TAP through an <c>AF_PACKET</c> socket as fast as it
/// can (the TAP drops what its reader does not take: <c>tx_dropped</c>); the benchmark thread on
/// <see cref="BenchNamespace.MainCpu"/> runs <see cref="GuestReceiveRig"/> (the <see cref="TapBackend"/> reads each frame
/// straight into the guest's receive buffers; the guest's driver takes them in place). Two queues: both pairs on the
/// benchmark thread (the other core is the generator's), as testpmd's one forwarding lcore polling two queues.
/// Per frame received by the guest: Mpps = 1000 / ns. 65536: 65535-byte UDP/IPv4 GSO super-frames from UDP sockets
/// in the namespace (UDP_SEGMENT), delivered whole (the guest negotiated GUEST_USO4, so the TAP carries USO:
/// <c>TUNSETOFFLOAD</c>); a TAP can get whole TCP super-frames only from a TCP flow with a peer that acknowledges, and
/// an <c>AF_PACKET</c> socket's GSO frames are always segmented before a TAP (see vrb-gen.c). Runs only inside the
/// script's namespace.
/// </summary>
[MemoryDiagnoser]
public class TapReceiveBenchmarks
{
    /// <summary>The TAP's name inside the benchmark namespace.</summary>
    public const string TapName = "vrbrx0";

    /// <summary>Frames per benchmark invocation.</summary>
    public const int FramesPerInvoke = 256;

    private TapBackend _backend = null!;
    private GuestReceiveRig _rig = null!;
    private FrameGenerator? _generator;
    private LinkCounters _before;

    /// <summary>Frame length (Ethernet header onwards); 65536 is a TSO4 super-frame.</summary>
    [ParamsSource(nameof(FrameLengths))]
    public int FrameLength { get; set; }

    /// <summary>TAP queues = queue pairs (all polled by the benchmark thread).</summary>
    [ParamsSource(nameof(QueueCounts))]
    public int Queues { get; set; }

    /// <summary>Gets the frame lengths (64, 1500, 65536 unless <c>VRB_SIZES</c> says otherwise).</summary>
    public static IEnumerable<int> FrameLengths => BenchNamespace.FrameLengths;

    /// <summary>Gets the queue counts (1, 2 unless <c>VRB_QUEUES</c> says otherwise).</summary>
    public static IEnumerable<int> QueueCounts => BenchNamespace.QueueCounts;

    /// <summary>Creates the TAP, the guest, and starts the generator.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchNamespace.Require();
        BenchNamespace.PinCurrentThread(BenchNamespace.MainCpu);
        _backend = TapBackend.Create(new TapOptions { Name = TapName, Queues = Queues });
        BenchNamespace.Ip("link", "set", "dev", TapName, "up");
        BenchNamespace.Ip("addr", "add", "10.199.0.1/24", "dev", TapName);
        BenchNamespace.Ip("neigh", "replace", "10.199.0.2", "lladdr", GuestReceiveRig.GuestMac.ToString(), "dev", TapName, "nud", "permanent");
        _rig = new GuestReceiveRig(_backend, Queues, FrameLength);
        _generator = FrameGenerator.Start(TapName, FrameLength, GuestReceiveRig.GuestMac);
        _rig.Receive(FramesPerInvoke);   // the generator is up and frames flow
        _before = BenchNamespace.ReadCounters(TapName);
    }

    /// <summary>Stops the generator, reports what each side counted, removes the TAP.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        string summary = _generator?.Stop() ?? "(no generator)";
        LinkCounters after = BenchNamespace.ReadCounters(TapName);
        long read = after.TxPackets - _before.TxPackets;
        long dropped = after.TxDropped - _before.TxDropped;
        string perQueue = string.Empty;
        long deviceDrops = 0;
        for (int p = 0; p < Queues; p++)
        {
            NetQueueCounters c = _rig.Guest.Device.GetCounters(2 * p);
            perQueue += $" rxq{p} {c.Packets}";
            deviceDrops += c.TotalDrops;
        }

        Console.WriteLine(
            $"// [vrb] tap rx {FrameLength} B x{Queues}: guest received {_rig.Frames} frames, {_rig.Bytes / Math.Max(1, _rig.Frames)} B average ({perQueue.Trim()}), " +
            $"device drops {deviceDrops}; TAP (kernel) tx_packets +{read}, tx_dropped +{dropped} (the reader was the bottleneck when > 0)");
        Console.WriteLine($"// [vrb] {summary}");
        _generator?.Dispose();
        _rig.Dispose();
        _backend.Dispose();
    }

    /// <summary>Receives frames into the guest.</summary>
    /// <returns>Frames received.</returns>
    [Benchmark(OperationsPerInvoke = FramesPerInvoke)]
    public int Receive() => _rig.Receive(FramesPerInvoke);
}
