using System;
using BenchmarkDotNet.Attributes;
using VirtioRing.Benchmarks.Queues;
using VirtioRing.Net.Engine;

namespace VirtioRing.Benchmarks.Net.InterGuest;

/// <summary>
/// Guest to guest through the <see cref="VirtioRing.Net.Switching.NetSwitch"/> on one thread
/// (<see cref="NetWorkerMode.Manual"/>): guest A's <c>NetDriver</c> enqueues a batch per pair and flushes, A's
/// <c>NetDevice</c> polls each pair (pops the chains, the switch forwards each frame with one copy from A's transmit
/// chain into B's receive buffers, publishes once), guest B's <c>NetDriver</c> receives the batch in place and
/// reposts. Figures are per frame: Mpps = 1000 / ns; Gbit/s = FrameLength × 8 / ns.
/// 64 and 1500 bytes: 32 frames per pair and round; 65536: a TCP/IPv4 TSO super-frame (GUEST_TSO4 on B: delivered
/// as is), 4 per pair and round. Two pairs: B steers flows with RSS over both.
/// </summary>
[MemoryDiagnoser]
public class InterGuestBenchmarks
{
    private InterGuestRig _rig = null!;

    /// <summary>Ring layout.</summary>
    [Params(RingLayout.Split, RingLayout.Packed)]
    public RingLayout Layout { get; set; }

    /// <summary>Queue pairs on both guests.</summary>
    [Params(1, 2)]
    public int Pairs { get; set; }

    /// <summary>Frame length (Ethernet header onwards).</summary>
    [Params(64, 1500, 65536)]
    public int FrameLength { get; set; }

    /// <summary>Builds the two guests and the switch.</summary>
    [GlobalSetup]
    public void Setup() => _rig = new InterGuestRig(Layout == RingLayout.Packed, Pairs, FrameLength, NetWorkerMode.Manual);

    /// <summary>Disposes the guests.</summary>
    [GlobalCleanup]
    public void Cleanup() => _rig.Dispose();

    /// <summary>64 frames from A to B.</summary>
    /// <returns>Frames received.</returns>
    [Benchmark(OperationsPerInvoke = InterGuestRig.FramesPerInvoke)]
    public int GuestToGuest() => _rig.Run();
}

/// <summary>
/// This machine's single-core copy bandwidth for the 64 KiB target (issue 4: guest-to-guest at 64 KiB ≥ 50 % of
/// it), in the same run as <see cref="InterGuestBenchmarks"/>: a 64 KiB <c>Span.CopyTo</c> and
/// <c>Buffer.MemoryCopy</c>, hot cache, source and destination 64 KiB apart in 16 MiB buffers so a run walks through
/// 256 different destinations (like receive buffers) or stays on one (hot).
/// </summary>
[MemoryDiagnoser]
public unsafe class InterGuestMemcpyBenchmarks
{
    private const int Length = 65536;
    private byte[] _source = null!;
    private byte[] _destination = null!;
    private int _next;

    /// <summary>Allocates the buffers.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _source = new byte[Length];
        new Random(1).NextBytes(_source);
        _destination = new byte[256 * Length];
    }

    /// <summary>One 64 KiB copy into the same destination.</summary>
    /// <returns>A byte of the destination.</returns>
    [Benchmark(Baseline = true)]
    public byte SpanCopyHot()
    {
        _source.AsSpan().CopyTo(_destination.AsSpan(0, Length));
        return _destination[Length - 1];
    }

    /// <summary>One 64 KiB copy into the next of 256 destinations (16 MiB: L3-sized working set).</summary>
    /// <returns>A byte of the destination.</returns>
    [Benchmark]
    public byte SpanCopyRotating()
    {
        int d = _next;
        _next = (d + 1) & 255;
        _source.AsSpan().CopyTo(_destination.AsSpan(d * Length, Length));
        return _destination[(d * Length) + Length - 1];
    }

    /// <summary>One 64 KiB <c>Buffer.MemoryCopy</c> into the same destination.</summary>
    /// <returns>A byte of the destination.</returns>
    [Benchmark]
    public byte MemoryCopyHot()
    {
        fixed (byte* s = _source)
        fixed (byte* d = _destination)
        {
            Buffer.MemoryCopy(s, d, Length, Length);
        }

        return _destination[Length - 1];
    }
}
