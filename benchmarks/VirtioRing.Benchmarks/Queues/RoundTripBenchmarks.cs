using System;
using BenchmarkDotNet.Attributes;
using VirtioRing.Queues;

namespace VirtioRing.Benchmarks.Queues;

/// <summary>
/// One thread plays both sides: driver add → publish → kick decision → device pop → write 4 bytes
/// → push → publish → interrupt decision → driver reclaim, for <see cref="Batch"/> buffers. Every
/// figure is per buffer (OperationsPerInvoke). The baseline is the bare split ring of DESIGN.md
/// with the same work per buffer; <c>Ratio</c> is what the library's abstractions and checks cost.
/// </summary>
[MemoryDiagnoser]
public class RoundTripBenchmarks
{
    private const int Ops = 256;   // buffers per invocation, whatever the batch
    private QueueRig _rig = null!;
    private BareSplitRing _bare = null!;

    /// <summary>Ring layout.</summary>
    [Params(RingLayout.Split, RingLayout.Packed)]
    public RingLayout Layout { get; set; }

    /// <summary>Segments per chain: 1 (writable payload) or 2 (readable header + writable payload).</summary>
    [Params(1, 2)]
    public int Segments { get; set; }

    /// <summary>Buffers added before one publish, popped before one used publish.</summary>
    [Params(1, 32, 256)]
    public int Batch { get; set; }

    /// <summary>Builds the queues.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _rig = new QueueRig(Layout, Segments, VirtqueueFeatures.EventIndex);
        _bare = new BareSplitRing(QueueRig.QueueSize, 64);
    }

    /// <summary>Frees guest memory.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _rig.Dispose();
        _bare.Dispose();
    }

    /// <summary>The bare 60-line split ring (peer): same work per buffer, no abstractions.</summary>
    /// <returns>Buffers moved.</returns>
    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public int Bare()
    {
        int moved = 0;
        for (int done = 0; done < Ops; done += Batch)
        {
            _bare.Add(Batch);
            _bare.Serve();
            moved += _bare.Reclaim();
        }

        return Check(moved);
    }

    /// <summary>VirtioRing through the concrete sealed classes.</summary>
    /// <returns>Buffers moved.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int Concrete() => Check(Layout == RingLayout.Split
        ? RoundTrip(new SplitOps(_rig.SplitDriver!, _rig.SplitDevice!))
        : RoundTrip(new PackedOps(_rig.PackedDriver!, _rig.PackedDevice!)));

    /// <summary>VirtioRing through <see cref="IDriverQueue"/> / <see cref="IDeviceQueue"/> (what a layout-agnostic engine does).</summary>
    /// <returns>Buffers moved.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int Interface() => Check(RoundTrip(new InterfaceOps(_rig.Driver, _rig.Device)));

    private static int Check(int moved) =>
        moved == Ops ? moved : throw new InvalidOperationException($"moved {moved} buffers, expected {Ops}");

    private int RoundTrip<TOps>(TOps ops)
        where TOps : struct, IRingOps
    {
        int moved = 0;
        for (int done = 0; done < Ops; done += Batch)
        {
            for (int t = 0; t < Batch; t++)
            {
                ops.TryAddChain(_rig.Chain(t), (ulong)t);
            }

            ops.PublishAvailable();
            ops.ShouldNotifyDevice();
            while (ops.TryPopAvailable(out DescriptorChain chain) == PopStatus.Popped)
            {
                ops.PushUsed(chain, QueueRig.Serve(chain));
            }

            ops.PublishUsed();
            ops.ShouldNotifyDriver();
            while (ops.TryReclaimUsed(out UsedBuffer _) == PopStatus.Popped)
            {
                moved++;
            }
        }

        return moved;
    }
}
