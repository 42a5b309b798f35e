using System;
using BenchmarkDotNet.Attributes;
using VirtioRing.Benchmarks.Queues;

namespace VirtioRing.Benchmarks.Net.InterGuest;

/// <summary>
/// Guest to guest through the <see cref="VirtioRing.Net.Switching.NetSwitch"/> with one core per side (issue 4; this
/// machine has two): the benchmark thread is guest A's side (A's <c>NetDriver</c> enqueues 32 frames and flushes, A's
/// <c>NetDevice</c> polls: the switch copies each frame once from A's transmit chain into B's receive buffers, and
/// holds A's chain while B has no buffers — lossless); a second thread is guest B's side (B's <c>NetDriver</c>
/// receives in place and reposts; it spins when its ring is empty). Both sides spin for the whole window, which ends
/// when B has received every frame A sent. One pair; ns per frame (Mpps = 1000 / ns; Gbit/s = FrameLength × 8 / ns).
/// </summary>
/// <remarks>
/// B's thread is started in <see cref="Setup"/> and kept across invocations (a thread start allocates), so the
/// measured window allocates nothing on either thread. <see cref="Setup"/> checks every byte of a first run; each
/// invocation checks that B received as many frames as A sent and the rig checks that nothing was dropped.
/// </remarks>
[MemoryDiagnoser]
public class InterGuestTwoThreadBenchmarks
{
    /// <summary>Frames per invocation.</summary>
    public const int Frames = 4096;

    private InterGuestTwoThreadRig _rig = null!;

    /// <summary>Ring layout.</summary>
    [Params(RingLayout.Split, RingLayout.Packed)]
    public RingLayout Layout { get; set; }

    /// <summary>Frame length (Ethernet header onwards).</summary>
    [Params(64, 1500)]
    public int FrameLength { get; set; }

    /// <summary>Builds the guests, starts B's side and checks a first run byte for byte.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _rig = new InterGuestTwoThreadRig(Layout == RingLayout.Packed, FrameLength, batch: 32);
        _rig.Run(Frames, verify: true);
        Check();
    }

    /// <summary>Reports the held retries and stops B's side.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        Check();
        Console.WriteLine($"// InterGuestTwoThread {Layout} {FrameLength} B: {_rig.Sent} frames sent, {_rig.Received} received, " +
            $"{_rig.Drops} dropped, A's chain held (B out of buffers) in {_rig.HoldEpisodes} episodes with {_rig.HeldRetries} Busy answers in all, " +
            $"B's no-buffer attempts {_rig.NoBufferAttempts}, wake-ups {_rig.WakeUps}, retries after a timed-out spin {_rig.WakeTimeouts} " +
            $"(of which while B's side made no progress, i.e. was not running: {_rig.StalledTimeouts})");
        _rig.Dispose();
    }

    /// <summary><see cref="Frames"/> frames from A to B, A's side on this thread and B's on its own.</summary>
    /// <returns>Frames received.</returns>
    [Benchmark(OperationsPerInvoke = Frames)]
    public int GuestToGuestTwoThreads()
    {
        int n = _rig.Run(Frames);
        if (_rig.Received != _rig.Sent)
        {
            throw new InvalidOperationException($"B received {_rig.Received} of {_rig.Sent} frames.");
        }

        return n;
    }

    private void Check()
    {
        if (_rig.Received != _rig.Sent || _rig.Drops != 0)
        {
            throw new InvalidOperationException($"B received {_rig.Received} of {_rig.Sent} frames, {_rig.Drops} dropped.");
        }
    }
}
