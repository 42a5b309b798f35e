using System;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;

namespace VirtioRing.Benchmarks.Queues;

/// <summary>Which ring layout a benchmark drives.</summary>
public enum RingLayout
{
    /// <summary>Split virtqueue (§2.7).</summary>
    Split,

    /// <summary>Packed virtqueue (§2.8).</summary>
    Packed,
}

/// <summary>
/// A driver queue and a device queue over one guest memory, with a fixed buffer per token, for
/// benchmarks. Everything is allocated here, once; the round trips allocate nothing.
/// </summary>
internal sealed class QueueRig : IDisposable
{
    public const int QueueSize = 1024;
    public const uint HeaderBytes = 12;
    public const uint PayloadBytes = 64;
    private const ulong RingBase = 0x10_0000;
    private const ulong IndirectBase = 0x20_0000;
    private const ulong BufferBase = 0x100_0000;

    private readonly BufferSegment[][] _chains;

    public QueueRig(RingLayout layout, int segments, VirtqueueFeatures features, int maxIndirect = 0)
    {
        Memory = GuestMemory.Allocate(new GuestAddress(0), 0x200_0000);
        var options = new DriverQueueOptions(new GuestAddress(IndirectBase), maxIndirect);
        if (layout == RingLayout.Split)
        {
            var l = SplitQueueLayout.Contiguous(QueueSize, new GuestAddress(RingBase));
            SplitDriver = new SplitDriverQueue(Memory, l, features, options);
            SplitDevice = new SplitDeviceQueue(Memory, l, features);
            Driver = SplitDriver;
            Device = SplitDevice;
        }
        else
        {
            var l = PackedQueueLayout.Contiguous(QueueSize, new GuestAddress(RingBase));
            PackedDriver = new PackedDriverQueue(Memory, l, features, options);
            PackedDevice = new PackedDeviceQueue(Memory, l, features);
            Driver = PackedDriver;
            Device = PackedDevice;
        }

        _chains = new BufferSegment[QueueSize][];
        for (int i = 0; i < QueueSize; i++)
        {
            ulong at = BufferBase + ((ulong)i * 128);
            _chains[i] = segments == 1
                ? new[] { BufferSegment.Writable(new GuestAddress(at), PayloadBytes) }
                : new[] { BufferSegment.Readable(new GuestAddress(at), HeaderBytes), BufferSegment.Writable(new GuestAddress(at + 16), PayloadBytes) };
        }
    }

    public GuestMemory Memory { get; }

    public IDriverQueue Driver { get; }

    public IDeviceQueue Device { get; }

    public SplitDriverQueue? SplitDriver { get; }

    public SplitDeviceQueue? SplitDevice { get; }

    public PackedDriverQueue? PackedDriver { get; }

    public PackedDeviceQueue? PackedDevice { get; }

    public ReadOnlySpan<BufferSegment> Chain(int token) => _chains[token];

    /// <summary>The device's work per buffer: write a 4-byte stamp into the first writable segment.</summary>
    public static uint Serve(in DescriptorChain chain)
    {
        Span<byte> s = chain.GetSpan(chain.ReadableCount);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(s, chain.Id);
        return 4;
    }

    public void Dispose() => Memory.Dispose();
}
