using System;
using BenchmarkDotNet.Attributes;
using VirtioRing.Benchmarks.Queues;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Rx;
using VirtioRing.Queues;

namespace VirtioRing.Benchmarks.Net.Driver;

/// <summary>
/// The in-process driver's per-frame cost, one thread, 32 frames per batch, figures per frame.
/// <see cref="Transmit"/>: driver copies header + frame into a transmit buffer and adds the chain; one
/// publish (and kick decision) per batch; the device pops each chain, reads the header and copies the
/// frame out, pushes it used; one used publish; the driver reclaims the batch.
/// <see cref="Receive"/>: the device writes each frame into receive buffers (NetReceiveWriter,
/// mergeable), publishes once; the driver receives each frame (copy out) and reposts its buffer.
/// </summary>
[MemoryDiagnoser]
public class NetDriverBenchmarks
{
    private const int QueueSize = 256;
    private const int Batch = 32;
    private const ulong Base = 0x10_0000;
    private GuestMemory _memory = null!;
    private NetDriver _driver = null!;
    private IDeviceQueue _rx = null!;
    private IDeviceQueue _tx = null!;
    private NetReceiveWriter _writer = null!;
    private NetHeaderLayout _layout;
    private byte[] _frame = null!;
    private byte[] _sink = null!;

    /// <summary>Ring layout.</summary>
    [Params(RingLayout.Split, RingLayout.Packed)]
    public RingLayout Layout { get; set; }

    /// <summary>Frame length (without the virtio header).</summary>
    [Params(64, 1500)]
    public int FrameLength { get; set; }

    /// <summary>Builds the rings, the driver and the device queues.</summary>
    [GlobalSetup]
    public void Setup()
    {
        NetFeatures offer = NetFeatures.Version1 | NetFeatures.MrgRxBuf | NetFeatures.EventIdx | (Layout == RingLayout.Packed ? NetFeatures.RingPacked : 0);
        ulong ringBytes = NetDriverRings.GetRequiredBytes(1, QueueSize, offer);
        const ulong BufferBytes = 4UL << 20;
        ulong bufferStart = Base + ((ringBytes + 4095) & ~4095UL);
        _memory = GuestMemory.Allocate(new GuestAddress(Base), bufferStart - Base + BufferBytes);
        _driver = new NetDriver(new NetDriverOptions(_memory, new GuestAddress(bufferStart), BufferBytes));
        NetFeatures negotiated = _driver.Negotiate(offer);
        NetDriverRings rings = NetDriverRings.Create(_memory, new GuestAddress(Base), ringBytes, 1, QueueSize, negotiated);
        _rx = rings[0].CreateDeviceQueue();
        _tx = rings[1].CreateDeviceQueue();
        _driver.Bind(rings);
        _layout = _driver.HeaderLayout;
        _writer = new NetReceiveWriter(_rx, _layout, NetReceiveMode.Mergeable);
        _frame = new byte[FrameLength];
        new Random(1).NextBytes(_frame);
        _sink = new byte[2048];
    }

    /// <summary>Frees the guest memory.</summary>
    [GlobalCleanup]
    public void Cleanup() => _memory.Dispose();

    /// <summary>Send, pop, read, push, reclaim — per frame.</summary>
    /// <returns>Bytes the device read (proof of work).</returns>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Transmit()
    {
        for (int i = 0; i < Batch; i++)
        {
            _driver.Enqueue(0, _frame, default);
        }

        _driver.Flush(0);
        int bytes = 0;
        while (_tx.TryPopAvailable(out DescriptorChain chain) == PopStatus.Popped)
        {
            bytes += chain.CopyFromReadable((uint)_layout.Size, _sink);
            _tx.PushUsed(chain, 0);
        }

        _tx.PublishUsed();
        _driver.ReclaimTransmitted(0);
        return bytes;
    }

    /// <summary>Device delivery, then driver receive and repost — per frame.</summary>
    /// <returns>Bytes received (proof of work).</returns>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int Receive()
    {
        for (int i = 0; i < Batch; i++)
        {
            _writer.Deliver(default, _frame);
        }

        _rx.PublishUsed();
        int bytes = 0;
        while (_driver.TryReceive(0, _sink, out _, out int length))
        {
            bytes += length;
        }

        return bytes;
    }
}
