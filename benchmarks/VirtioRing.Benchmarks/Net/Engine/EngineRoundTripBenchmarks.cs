using System;
using BenchmarkDotNet.Attributes;
using VirtioRing.Benchmarks.Queues;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;

namespace VirtioRing.Benchmarks.Net.Engine;

/// <summary>
/// A frame's round trip through the device engine on one thread (<see cref="NetWorkerMode.Manual"/>):
/// the guest posts a transmit chain, the pair's poll hands it to an echo <see cref="LoopbackBackend"/>
/// (one copy into its slot) and delivers it back into a receive buffer (one copy, mergeable header),
/// then the guest reclaims both and reposts. 32 frames per poll; reported per frame.
/// </summary>
[MemoryDiagnoser]
public class EngineRoundTripBenchmarks
{
    private const int QueueSize = 256;
    private const int Batch = 32;
    private const int BufferBytes = 2048;
    private const ulong RxRing = 0x10_0000;
    private const ulong TxRing = 0x20_0000;
    private const ulong RxBuffers = 0x100_0000;
    private const ulong TxBuffers = 0x200_0000;
    private GuestMemory _memory = null!;
    private IDriverQueue _rx = null!;
    private IDriverQueue _tx = null!;
    private NetDevice _device = null!;
    private NetQueuePair _pair = null!;
    private BufferSegment[][] _rxChains = null!;
    private BufferSegment[][] _txChains = null!;

    /// <summary>Ring layout.</summary>
    [Params(RingLayout.Split, RingLayout.Packed)]
    public RingLayout Layout { get; set; }

    /// <summary>Frame length (without the virtio header).</summary>
    [Params(64, 1500)]
    public int FrameLength { get; set; }

    /// <summary>Builds the device, the queues and the buffers.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _memory = GuestMemory.Allocate(new GuestAddress(0), TxBuffers + ((ulong)QueueSize * BufferBytes));
        var backend = new LoopbackBackend(LoopbackMode.Echo, 1, NetOffloads.None, capacity: 64, maxFrameLength: 2048);
        _device = new NetDevice(new NetDeviceOptions { Backend = backend, WorkerMode = NetWorkerMode.Manual });
        NetFeatures accept = NetFeatures.Version1 | NetFeatures.MrgRxBuf | NetFeatures.EventIdx | (Layout == RingLayout.Packed ? NetFeatures.RingPacked : 0);
        if (!_device.SetDriverFeatures(accept).IsValid)
        {
            throw new InvalidOperationException("features refused");
        }

        VirtqueueFeatures f = _device.QueueFeatures;
        (_rx, IDeviceQueue rxDevice) = Make(RxRing, f);
        (_tx, IDeviceQueue txDevice) = Make(TxRing, f);
        _device.SetQueue(0, rxDevice, null);
        _device.SetQueue(1, txDevice, null);
        _rxChains = new BufferSegment[QueueSize][];
        _txChains = new BufferSegment[QueueSize][];
        int header = _device.Layout.Size;
        for (int i = 0; i < QueueSize; i++)
        {
            _rxChains[i] = [BufferSegment.Writable(new GuestAddress(RxBuffers + ((ulong)i * BufferBytes)), BufferBytes)];
            var txAddress = new GuestAddress(TxBuffers + ((ulong)i * BufferBytes));
            Span<byte> tx = _memory.GetSpan(txAddress, (ulong)(header + FrameLength));
            tx.Clear();
            tx[header] = 0x52;
            _txChains[i] = [BufferSegment.Readable(txAddress, (uint)(header + FrameLength))];
        }

        for (int i = 0; i < Batch * 2; i++)
        {
            _rx.TryAddChain(_rxChains[i], (ulong)i);
        }

        _rx.PublishAvailable();
        _device.Start();
        _pair = _device.GetPair(0);
    }

    /// <summary>Disposes the device.</summary>
    [GlobalCleanup]
    public void Cleanup() => _device.Dispose();

    /// <summary>32 frames out and back.</summary>
    /// <returns>Frames received.</returns>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int RoundTrip()
    {
        for (int i = 0; i < Batch; i++)
        {
            _tx.TryAddChain(_txChains[i], (ulong)i);
        }

        _tx.PublishAvailable();
        _pair.Poll(Batch);
        int received = 0;
        while (_tx.TryReclaimUsed(out _) == PopStatus.Popped)
        {
        }

        while (_rx.TryReclaimUsed(out UsedBuffer used) == PopStatus.Popped)
        {
            _rx.TryAddChain(_rxChains[(int)used.Token], used.Token);
            received++;
        }

        _rx.PublishAvailable();
        if (received != Batch)
        {
            throw new InvalidOperationException($"received {received} of {Batch}");
        }

        return received;
    }

    private (IDriverQueue Driver, IDeviceQueue Device) Make(ulong ring, VirtqueueFeatures f)
    {
        if (Layout == RingLayout.Split)
        {
            var l = SplitQueueLayout.Contiguous(QueueSize, new GuestAddress(ring));
            return (new SplitDriverQueue(_memory, l, f), new SplitDeviceQueue(_memory, l, f));
        }

        var p = PackedQueueLayout.Contiguous(QueueSize, new GuestAddress(ring));
        return (new PackedDriverQueue(_memory, p, f), new PackedDeviceQueue(_memory, p, f));
    }
}
