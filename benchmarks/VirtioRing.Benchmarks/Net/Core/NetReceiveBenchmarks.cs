using System;
using BenchmarkDotNet.Attributes;
using VirtioRing.Benchmarks.Queues;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Rx;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;

namespace VirtioRing.Benchmarks.Net.Core;

/// <summary>
/// Delivering received frames with <see cref="NetReceiveWriter"/> (mergeable, 12-byte header) into
/// 2048-byte receive buffers, the driver refilling and reclaiming in the same thread: per frame,
/// 32 frames per publish. Frame sizes: 64 (one buffer), 1514 (one buffer), 9000 (five buffers).
/// </summary>
[MemoryDiagnoser]
public class NetReceiveBenchmarks
{
    private const int QueueSize = 256;
    private const int BufferBytes = 2048;
    private const int Frames = 32;
    private const ulong RingBase = 0x10_0000;
    private const ulong BufferBase = 0x100_0000;
    private GuestMemory _memory = null!;
    private IDriverQueue _driver = null!;
    private NetReceiveWriter _writer = null!;
    private BufferSegment[][] _chains = null!;
    private byte[] _frame = null!;
    private int _nextChain;

    /// <summary>Ring layout.</summary>
    [Params(RingLayout.Split, RingLayout.Packed)]
    public RingLayout Layout { get; set; }

    /// <summary>Frame length (without the virtio header).</summary>
    [Params(64, 1514, 9000)]
    public int FrameLength { get; set; }

    /// <summary>Builds the queues and fills the receive ring.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _memory = GuestMemory.Allocate(new GuestAddress(0), BufferBase + ((ulong)QueueSize * BufferBytes));
        IDeviceQueue device;
        if (Layout == RingLayout.Split)
        {
            var l = SplitQueueLayout.Contiguous(QueueSize, new GuestAddress(RingBase));
            _driver = new SplitDriverQueue(_memory, l, VirtqueueFeatures.EventIndex);
            device = new SplitDeviceQueue(_memory, l, VirtqueueFeatures.EventIndex);
        }
        else
        {
            var l = PackedQueueLayout.Contiguous(QueueSize, new GuestAddress(RingBase));
            _driver = new PackedDriverQueue(_memory, l, VirtqueueFeatures.EventIndex);
            device = new PackedDeviceQueue(_memory, l, VirtqueueFeatures.EventIndex);
        }

        _chains = new BufferSegment[QueueSize][];
        for (int i = 0; i < QueueSize; i++)
        {
            _chains[i] = [BufferSegment.Writable(new GuestAddress(BufferBase + ((ulong)i * BufferBytes)), BufferBytes)];
        }

        _writer = new NetReceiveWriter(device, NetHeaderLayout.Modern, NetReceiveMode.Mergeable);
        _frame = new byte[FrameLength];
        new Random(1).NextBytes(_frame);
        Refill();
    }

    /// <summary>Frees guest memory.</summary>
    [GlobalCleanup]
    public void Cleanup() => _memory.Dispose();

    /// <summary>Deliver 32 frames, publish once, reclaim and refill.</summary>
    /// <returns>Buffers used.</returns>
    [Benchmark(OperationsPerInvoke = Frames)]
    public int Deliver()
    {
        int buffers = 0;
        var header = new VirtioNetHeader { Flags = NetHeaderFlags.DataValid };
        for (int i = 0; i < Frames; i++)
        {
            buffers += _writer.Deliver(header, _frame).Buffers;
        }

        _writer.Queue.PublishUsed();
        _writer.Queue.ShouldNotifyDriver();
        while (_driver.TryReclaimUsed(out _) == PopStatus.Popped)
        {
        }

        Refill();
        return buffers;
    }

    private void Refill()
    {
        while (_driver.FreeDescriptors > 0)
        {
            _driver.TryAddChain(_chains[_nextChain], (ulong)_nextChain);
            _nextChain = (_nextChain + 1) % QueueSize;
        }

        _driver.PublishAvailable();
    }
}
