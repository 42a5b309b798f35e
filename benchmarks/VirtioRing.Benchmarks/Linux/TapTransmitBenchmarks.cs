using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using VirtioRing.Linux.Tap;
using VirtioRing.Net.Engine;

namespace VirtioRing.Benchmarks.Linux;

/// <summary>
/// Guest → TAP → kernel sink, the peer being DPDK's <c>net_tap</c> in testpmd <c>txonly</c> (same namespace setup,
/// measured by <c>benchmarks/linux/tap-vs-dpdk.sh</c> in the same run). A <see cref="TapBackend"/> with one queue per
/// pair, a device in <see cref="NetWorkerMode.Manual"/> driven by <see cref="PrefilledTransmitRig"/>: each frame is
/// one <c>writev</c> from guest memory; the kernel drops it right after the TAP (the destination MAC is not the TAP's).
/// One queue: the benchmark thread on <see cref="BenchNamespace.MainCpu"/>. Two queues: pair 0 there, pair 1 on a
/// second thread on <see cref="BenchNamespace.OtherCpu"/> (one core per queue, as DPDK's two forwarding lcores).
/// Figures per frame: Mpps = 1000 / ns; Gbit/s = FrameLength × 8 / ns. Runs only inside the script's namespace.
/// </summary>
[MemoryDiagnoser]
public class TapTransmitBenchmarks
{
    /// <summary>The TAP's name inside the benchmark namespace.</summary>
    public const string TapName = "vrbtx0";

    /// <summary>Frames per benchmark invocation, whatever the size and queue count.</summary>
    public const int FramesPerInvoke = 256;

    private TapBackend _backend = null!;
    private PrefilledTransmitRig _rig = null!;
    private PairThread? _second;
    private int _rounds;
    private LinkCounters _before;

    /// <summary>Frame length (Ethernet header onwards); 65536 is a TSO4 super-frame.</summary>
    [ParamsSource(nameof(FrameLengths))]
    public int FrameLength { get; set; }

    /// <summary>TAP queues = queue pairs = threads.</summary>
    [ParamsSource(nameof(QueueCounts))]
    public int Queues { get; set; }

    /// <summary>Gets the frame lengths (64, 1500, 65536 unless <c>VRB_SIZES</c> says otherwise).</summary>
    public static IEnumerable<int> FrameLengths => BenchNamespace.FrameLengths;

    /// <summary>Gets the queue counts (1, 2 unless <c>VRB_QUEUES</c> says otherwise).</summary>
    public static IEnumerable<int> QueueCounts => BenchNamespace.QueueCounts;

    /// <summary>Creates the TAP in the namespace, gives it an address, builds the guest and pins the threads.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchNamespace.Require();
        BenchNamespace.PinCurrentThread(BenchNamespace.MainCpu);
        _backend = TapBackend.Create(new TapOptions { Name = TapName, Queues = Queues });
        BenchNamespace.Ip("link", "set", "dev", TapName, "up");
        BenchNamespace.Ip("addr", "add", "10.199.0.1/24", "dev", TapName);
        _rig = new PrefilledTransmitRig(_backend, Queues, FrameLength);
        _rounds = FramesPerInvoke / (Queues * _rig.Batch);
        if (Queues > 1)
        {
            _second = new PairThread(() => _rig.Run(1, _rounds), "tx-pair-1");
        }

        _before = BenchNamespace.ReadCounters(TapName);
    }

    /// <summary>Checks that every frame reached the kernel, reports the counters, removes the TAP.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _second?.Dispose();
        LinkCounters after = BenchNamespace.ReadCounters(TapName);
        long sent = 0, dropped = 0;
        for (int p = 0; p < Queues; p++)
        {
            NetQueueCounters c = _rig.Device.GetCounters((2 * p) + 1);
            sent += c.Packets;
            dropped += c.TotalDrops;
        }

        Console.WriteLine(
            $"// [vrb] tap tx {FrameLength} B x{Queues}: device sent {sent}, dropped {dropped}; TAP (kernel) rx_packets +{after.RxPackets - _before.RxPackets}, " +
            $"rx_bytes +{after.RxBytes - _before.RxBytes}, rx_dropped +{after.RxDropped - _before.RxDropped}");
        _rig.Dispose();
        _backend.Dispose();
        if (dropped != 0)
        {
            throw new InvalidOperationException($"{dropped} frames were dropped by the device or the TAP");
        }
    }

    /// <summary>Sends frames on every queue.</summary>
    /// <returns>Frames sent.</returns>
    [Benchmark(OperationsPerInvoke = FramesPerInvoke)]
    public int Transmit()
    {
        _second?.Begin();
        int n = _rig.Run(0, _rounds);
        if (_second is not null)
        {
            n += _second.End();
        }

        return n;
    }
}
