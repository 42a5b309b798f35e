using System;
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
/// Per frame received by the guest: Mpps = 1000 / ns. 65536: TCP/IPv4 GSO super-frames delivered whole (the guest
/// negotiated GUEST_TSO4, so the TAP carries TSO: <c>TUNSETOFFLOAD</c>). Runs only inside the script's namespace.
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
    private long _txBefore;
    private long _droppedBefore;

    /// <summary>Frame length (Ethernet header onwards); 65536 is a TSO4 super-frame.</summary>
    [Params(64, 1500, 65536)]
    public int FrameLength { get; set; }

    /// <summary>TAP queues = queue pairs (all polled by the benchmark thread).</summary>
    [Params(1, 2)]
    public int Queues { get; set; }

    /// <summary>Creates the TAP, the guest, and starts the generator.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchNamespace.Require();
        BenchNamespace.PinCurrentThread(BenchNamespace.MainCpu);
        _backend = TapBackend.Create(new TapOptions { Name = TapName, Queues = Queues });
        BenchNamespace.Ip("link", "set", "dev", TapName, "up");
        BenchNamespace.Ip("addr", "add", "10.199.0.1/24", "dev", TapName);
        _rig = new GuestReceiveRig(_backend, Queues, FrameLength);
        _generator = FrameGenerator.Start(TapName, FrameLength, GuestReceiveRig.GuestMac);
        _rig.Receive(FramesPerInvoke);   // the generator is up and frames flow
        _txBefore = BenchNamespace.ReadCounter(TapName, "tx_packets");
        _droppedBefore = BenchNamespace.ReadCounter(TapName, "tx_dropped");
    }

    /// <summary>Stops the generator, reports what each side counted, removes the TAP.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        string summary = _generator?.Stop() ?? "(no generator)";
        long read = BenchNamespace.ReadCounter(TapName, "tx_packets") - _txBefore;
        long dropped = BenchNamespace.ReadCounter(TapName, "tx_dropped") - _droppedBefore;
        string perQueue = string.Empty;
        long deviceDrops = 0;
        for (int p = 0; p < Queues; p++)
        {
            NetQueueCounters c = _rig.Guest.Device.GetCounters(2 * p);
            perQueue += $" rxq{p} {c.Packets}";
            deviceDrops += c.TotalDrops;
        }

        Console.WriteLine($"// [vrb] tap rx {FrameLength} B x{Queues}: guest received {_rig.Frames} frames ({perQueue.Trim()}), device drops {deviceDrops}; kernel tx_packets +{read}, tx_dropped +{dropped} (reader too slow when > 0)");
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
