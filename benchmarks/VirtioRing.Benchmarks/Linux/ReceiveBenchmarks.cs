using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;

namespace VirtioRing.Benchmarks.Linux;

/// <summary>
/// Kernel → backend → in-process guest, against DPDK's driver for the same kernel interface in testpmd
/// <c>rxonly</c> (same generator, same namespace setup, measured by <c>benchmarks/linux/tap-vs-dpdk.sh</c> in the same
/// run). <c>vrb-gen</c> on <see cref="BenchNamespace.OtherCpu"/> sends frames as fast as it can from the kernel side
/// (whatever the reader does not take is dropped by the kernel and counted); the benchmark thread on
/// <see cref="BenchNamespace.MainCpu"/> runs <see cref="GuestReceiveRig"/>: the device polls the backend, which puts
/// each frame into the guest's receive buffers, and the guest's driver takes them in place. Two queues: both pairs on
/// the benchmark thread (the other core is the generator's), as testpmd's one forwarding lcore polling two queues.
/// Per frame received by the guest: Mpps = 1000 / ns. 65536: 65535-byte UDP/IPv4 GSO super-frames from UDP sockets in
/// the namespace (UDP_SEGMENT), delivered whole when the backend carries USO to the guest (GUEST_USO4); a kernel
/// interface gets whole TCP super-frames only from a TCP flow with a peer that acknowledges, and an <c>AF_PACKET</c>
/// socket's GSO frames are always segmented before a TAP (see vrb-gen.c). Runs only inside the script's namespace.
/// </summary>
[MemoryDiagnoser]
public abstract class ReceiveBenchmarks
{
    /// <summary>Frames per benchmark invocation.</summary>
    public const int FramesPerInvoke = 256;

    private INetBackend _backend = null!;
    private GuestReceiveRig _rig = null!;
    private FrameGenerator? _generator;
    private LinkCounters _before;

    /// <summary>Frame length (Ethernet header onwards); 65536 stands for 65535-byte UDP GSO super-frames.</summary>
    [ParamsSource(nameof(FrameLengths))]
    public int FrameLength { get; set; }

    /// <summary>Backend queues = queue pairs (all polled by the benchmark thread).</summary>
    [ParamsSource(nameof(QueueCounts))]
    public int Queues { get; set; }

    /// <summary>Gets the frame lengths (64, 1500, 65536 unless <c>VRB_SIZES</c> says otherwise).</summary>
    public static IEnumerable<int> FrameLengths => BenchNamespace.FrameLengths;

    /// <summary>Gets the queue counts (1, 2 unless <c>VRB_QUEUES</c> says otherwise).</summary>
    public static IEnumerable<int> QueueCounts => BenchNamespace.QueueCounts;

    /// <summary>Gets the interface the generator sends into (the TAP, or the veth's peer).</summary>
    protected abstract string SourceInterface { get; }

    /// <summary>Gets the interface whose kernel counters show what was offered to the backend (the TAP's tx, the veth end's rx).</summary>
    protected abstract string CountedInterface { get; }

    /// <summary>Gets the case's name in the log ("tap tx", …).</summary>
    protected abstract string Label { get; }

    /// <summary>Enters the namespace, makes the interface, the backend and the guest, starts the generator.</summary>
    [GlobalSetup]
    public void Setup()
    {
        BenchNamespace.Require();
        BenchNamespace.PinCurrentThread(BenchNamespace.MainCpu);
        _backend = CreateBackend(Queues, FrameLength);
        BenchNamespace.Ip("neigh", "replace", "10.199.0.2", "lladdr", GuestReceiveRig.GuestMac.ToString(), "dev", SourceInterface, "nud", "permanent");
        _rig = new GuestReceiveRig(_backend, Queues, FrameLength);
        _generator = FrameGenerator.Start(SourceInterface, FrameLength, GuestReceiveRig.GuestMac);
        _rig.Receive(FramesPerInvoke);   // the generator is up and frames flow
        _before = BenchNamespace.ReadCounters(CountedInterface);
    }

    /// <summary>Stops the generator, reports what each side counted, removes what the setup made.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        string summary = _generator?.Stop() ?? "(no generator)";
        LinkCounters after = BenchNamespace.ReadCounters(CountedInterface);
        string perQueue = string.Empty;
        long deviceDrops = 0;
        for (int p = 0; p < Queues; p++)
        {
            NetQueueCounters c = _rig.Guest.Device.GetCounters(2 * p);
            perQueue += $" rxq{p} {c.Packets}";
            deviceDrops += c.TotalDrops;
        }

        Console.WriteLine(
            $"// [vrb] {Label} {FrameLength} B x{Queues}: guest received {_rig.Frames} frames, {_rig.Bytes / Math.Max(1, _rig.Frames)} B average ({perQueue.Trim()}), " +
            $"device drops {deviceDrops}; {CountedInterface} (kernel) since warm-up: rx +{after.RxPackets - _before.RxPackets} tx +{after.TxPackets - _before.TxPackets} " +
            $"tx_dropped +{after.TxDropped - _before.TxDropped}; {Describe(_backend)}");
        Console.WriteLine($"// [vrb] {summary}");
        _generator?.Dispose();
        _rig.Dispose();
        DestroyBackend(_backend);
    }

    /// <summary>Receives frames into the guest.</summary>
    /// <returns>Frames received.</returns>
    [Benchmark(OperationsPerInvoke = FramesPerInvoke)]
    public int Receive() => _rig.Receive(FramesPerInvoke);

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
