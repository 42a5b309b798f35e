using System;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;

namespace VirtioRing.TestKit;

/// <summary>
/// The guest memory of a test queue pair: three regions, each between guard bands — the rings
/// (contiguous layout), the driver's indirect table area, and a pool of fixed-size buffers. The
/// regions are far apart (the buffers sit above 4 GiB, so a truncated address misses them).
/// </summary>
public sealed class QueueMemoryMap
{
    /// <summary>Where the ring region starts.</summary>
    public const ulong RingRegionStart = 0x0001_0000;

    /// <summary>Where the indirect table region starts.</summary>
    public const ulong IndirectRegionStart = 0x4000_0000;

    /// <summary>Where the buffer region starts (above 4 GiB).</summary>
    public const ulong BufferRegionStart = 0x1_0000_0000;

    private const ulong Page = 4096;

    private QueueMemoryMap(QueueConfig config, RingAreas areas, ulong ringBytes, ulong indirectBytes, int bufferSlotSize, int bufferSlotCount)
    {
        Config = config;
        Areas = areas;
        RingBytes = ringBytes;
        RingRegionSize = RoundUp(ringBytes);
        IndirectAreaBytes = indirectBytes;
        IndirectRegionSize = Math.Max(Page, RoundUp(indirectBytes));
        BufferSlotSize = bufferSlotSize;
        BufferSlotCount = bufferSlotCount;
        BufferRegionSize = Math.Max(Page, RoundUp((ulong)bufferSlotSize * (ulong)bufferSlotCount));
    }

    /// <summary>Gets the queue configuration.</summary>
    public QueueConfig Config { get; }

    /// <summary>Gets the ring areas.</summary>
    public RingAreas Areas { get; }

    /// <summary>Gets the bytes the contiguous ring layout spans from <see cref="RingRegionStart"/>.</summary>
    public ulong RingBytes { get; }

    /// <summary>Gets the size of the ring region (a whole number of pages).</summary>
    public ulong RingRegionSize { get; }

    /// <summary>Gets the start of the driver's indirect table area.</summary>
    public static GuestAddress IndirectTableArea => new(IndirectRegionStart);

    /// <summary>Gets the bytes the driver's indirect tables need (0 when indirect descriptors are off).</summary>
    public ulong IndirectAreaBytes { get; }

    /// <summary>Gets the size of the indirect region (at least one page, even when indirect descriptors are off).</summary>
    public ulong IndirectRegionSize { get; }

    /// <summary>Gets the buffer slot size in bytes.</summary>
    public int BufferSlotSize { get; }

    /// <summary>Gets the number of buffer slots.</summary>
    public int BufferSlotCount { get; }

    /// <summary>Gets the size of the buffer region.</summary>
    public ulong BufferRegionSize { get; }

    /// <summary>Computes the map for a configuration.</summary>
    /// <param name="config">The queue configuration.</param>
    /// <param name="bufferSlotSize">The size of each buffer slot.</param>
    /// <param name="bufferSlotCount">The number of buffer slots.</param>
    /// <returns>The map.</returns>
    /// <exception cref="ArgumentException">The configuration is not valid.</exception>
    public static QueueMemoryMap Create(QueueConfig config, int bufferSlotSize, int bufferSlotCount)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!config.IsValid)
        {
            throw new ArgumentException($"Invalid queue configuration {config}.", nameof(config));
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bufferSlotSize);
        ArgumentOutOfRangeException.ThrowIfNegative(bufferSlotCount);
        var start = new GuestAddress(RingRegionStart);
        RingAreas areas;
        ulong ringBytes;
        if (config.Kind == QueueKind.Split)
        {
            areas = RingAreas.From(SplitQueueLayout.Contiguous(config.Size, start));
            ringBytes = SplitQueueLayout.ContiguousBytes(config.Size);
        }
        else
        {
            areas = RingAreas.From(PackedQueueLayout.Contiguous(config.Size, start));
            ringBytes = PackedQueueLayout.ContiguousBytes(config.Size);
        }

        ulong indirect = config.UsesIndirectTables ? (ulong)config.Size * (ulong)config.MaxIndirectSegments * Descriptor.Size : 0;
        return new QueueMemoryMap(config, areas, ringBytes, indirect, bufferSlotSize, bufferSlotCount);
    }

    /// <summary>Gets the (start, size) of the three regions, for <see cref="GuardedGuestMemory"/>.</summary>
    /// <returns>Ring region, indirect region, buffer region.</returns>
    public (ulong Start, ulong Size)[] GetRegions() =>
    [
        (RingRegionStart, RingRegionSize),
        (IndirectRegionStart, IndirectRegionSize),
        (BufferRegionStart, BufferRegionSize),
    ];

    /// <summary>Gets the driver options that place indirect tables in the indirect region.</summary>
    /// <returns>The options.</returns>
    public DriverQueueOptions DriverOptions() =>
        Config.UsesIndirectTables ? new DriverQueueOptions(IndirectTableArea, Config.MaxIndirectSegments) : DriverQueueOptions.Default;

    private static ulong RoundUp(ulong bytes) => (bytes + Page - 1) & ~(Page - 1);
}
