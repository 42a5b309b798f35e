using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;

namespace VirtioRing.Benchmarks.Linux;

/// <summary>
/// Guest → backend → kernel sink, against DPDK's driver for the same kernel interface in testpmd <c>txonly</c> (same
/// namespace setup, measured by <c>benchmarks/linux/tap-vs-dpdk.sh</c> in the same run). The backend has one queue
/// per pair; a device in <see cref="NetWorkerMode.Manual"/> is driven by <see cref="PrefilledTransmitRig"/> (the guest
/// only re-posts chains written once; each frame goes to the kernel from guest memory). The kernel drops each frame
/// right after the interface (the destination MAC is not its own). One queue: the benchmark thread on
/// <see cref="BenchNamespace.MainCpu"/>. Two queues: pair 0 there, pair 1 on a second thread on
/// <see cref="BenchNamespace.OtherCpu"/> (one core per queue, as DPDK's two forwarding lcores); the two share each
/// invocation's frames batch by batch, so one thread's pre-emption does not stall the other.
/// Figures per frame: Mpps = 1000 / ns; Gbit/s = FrameLength × 8 / ns. Runs only inside the script's namespace.
/// </summary>
[MemoryDiagnoser]
public abstract class TransmitBenchmarks
{
    /// <summary>Frames per benchmark invocation, whatever the size and queue count.</summary>
    public const int FramesPerInvoke = 256;

    private INetBackend _backend = null!;
    private PrefilledTransmitRig _rig = null!;
    private PairThread? _second;
    private int _rounds;
    private int _budget;
    private LinkCounters _before;

    /// <summary>Frame length (Ethernet header onwards); 65536 is a TSO4 super-frame.</summary>
    [ParamsSource(nameof(FrameLengths))]
    public int FrameLength { get; set; }

    /// <summary>Backend queues = queue pairs = threads.</summary>
    [ParamsSource(nameof(QueueCounts))]
    public int Queues { get; set; }

    /// <summary>Gets the frame lengths (64, 1500, 65536 unless <c>VRB_SIZES</c> says otherwise).</summary>
    public static IEnumerable<int> FrameLengths => BenchNamespace.FrameLengths;

    /// <summary>Gets the queue counts (1, 2 unless <c>VRB_QUEUES</c> says otherwise).</summary>
    public static IEnumerable<int> QueueCounts => BenchNamespace.QueueCounts;

    /// <summary>Gets the interface whose kernel receive counters show the frames arriving (the TAP, or the veth's peer).</summary>
    protected abstract string SinkInterface { get; }

    /// <summary>Gets the case's name in the log ("tap tx", …).</summary>
    protected abstract string Label { get; }

    /// <summary>Enters the namespace, makes the interface and the backend, builds the guest, pins the threads.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchNamespace.Require();
        BenchNamespace.PinCurrentThread(BenchNamespace.MainCpu);
        _backend = CreateBackend(Queues, FrameLength);
        _rig = new PrefilledTransmitRig(_backend, Queues, FrameLength);
        _rounds = FramesPerInvoke / _rig.Batch;
        if (Queues > 1)
        {
            _second = new PairThread(() => _rig.RunShared(1, ref _budget), "tx-pair-1");
        }

        _before = BenchNamespace.ReadCounters(SinkInterface);
    }

    /// <summary>Checks that no frame was dropped, reports the counters, removes what the setup made.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _second?.Dispose();
        LinkCounters after = BenchNamespace.ReadCounters(SinkInterface);
        long sent = 0, dropped = 0;
        for (int p = 0; p < Queues; p++)
        {
            NetQueueCounters c = _rig.Device.GetCounters((2 * p) + 1);
            sent += c.Packets;
            dropped += c.TotalDrops;
        }

        Console.WriteLine(
            $"// [vrb] {Label} {FrameLength} B x{Queues}: device sent {sent}, dropped {dropped}; {SinkInterface} (kernel) " +
            $"rx_packets +{after.RxPackets - _before.RxPackets}, rx_bytes +{after.RxBytes - _before.RxBytes}, rx_dropped +{after.RxDropped - _before.RxDropped}; {Describe(_backend)}");
        _rig.Dispose();
        DestroyBackend(_backend);
        if (dropped != 0)
        {
            throw new InvalidOperationException($"{dropped} frames were dropped by the device or the backend");
        }
    }

    /// <summary>Sends frames on every queue.</summary>
    /// <returns>Frames sent.</returns>
    [Benchmark(OperationsPerInvoke = FramesPerInvoke)]
    public int Transmit()
    {
        if (_second is null)
        {
            return _rig.Run(0, _rounds);
        }

        // Two pairs share the invocation's frames (see PrefilledTransmitRig.RunShared): a thread that is pre-empted
        // does not hold the other back, as DPDK's independent lcores are not held back by each other.
        _budget = FramesPerInvoke;
        _second.Begin();
        int n = _rig.RunShared(0, ref _budget);
        n += _second.End();
        if (n != FramesPerInvoke)
        {
            throw new InvalidOperationException($"sent {n} frames, expected {FramesPerInvoke}");
        }

        return n;
    }

    /// <summary>Creates the interface (inside the namespace, up, with 10.199.0.1/24 on the kernel side) and the backend on it.</summary>
    /// <param name="queues">The backend queues.</param>
    /// <param name="frameLength">The frame length of the case.</param>
    /// <returns>The backend.</returns>
    protected abstract INetBackend CreateBackend(int queues, int frameLength);

    /// <summary>Disposes the backend and removes the interface.</summary>
    /// <param name="backend">The backend.</param>
    protected abstract void DestroyBackend(INetBackend backend);

    /// <summary>Describes the backend's own counters for the log.</summary>
    /// <param name="backend">The backend.</param>
    /// <returns>A short text.</returns>
    protected abstract string Describe(INetBackend backend);
}
