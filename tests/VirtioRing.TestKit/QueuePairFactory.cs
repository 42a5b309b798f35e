using System;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;

namespace VirtioRing.TestKit;

/// <summary>
/// Builds a driver queue and a device queue of either layout over one <see cref="GuardedGuestMemory"/>
/// laid out by <see cref="QueueMemoryMap"/>: contiguous rings, an indirect table area, a buffer pool.
/// </summary>
public static class QueuePairFactory
{
    /// <summary>The default buffer slot size in bytes.</summary>
    public const int DefaultBufferSlotSize = 256;

    /// <summary>Creates a driver and a device queue.</summary>
    /// <param name="kind">Split or packed.</param>
    /// <param name="size">The queue size.</param>
    /// <param name="features">The negotiated features.</param>
    /// <param name="maxIndirectSegments">The driver's indirect table limit (used with indirect descriptors).</param>
    /// <param name="bufferSlotSize">The buffer slot size.</param>
    /// <param name="bufferSlotCount">The number of buffer slots; 0 for four per descriptor.</param>
    /// <returns>The pair; dispose it.</returns>
    public static QueuePair Create(QueueKind kind, int size, VirtqueueFeatures features, int maxIndirectSegments = QueueConfig.DefaultMaxIndirectSegments,
        int bufferSlotSize = DefaultBufferSlotSize, int bufferSlotCount = 0) =>
        Create(new QueueConfig(kind, size, features, maxIndirectSegments), bufferSlotSize, bufferSlotCount);

    /// <summary>Creates a driver and a device queue.</summary>
    /// <param name="config">The configuration.</param>
    /// <param name="bufferSlotSize">The buffer slot size.</param>
    /// <param name="bufferSlotCount">The number of buffer slots; 0 for four per descriptor.</param>
    /// <returns>The pair; dispose it.</returns>
    public static QueuePair Create(QueueConfig config, int bufferSlotSize = DefaultBufferSlotSize, int bufferSlotCount = 0) =>
        Build(config, bufferSlotSize, bufferSlotCount, withDriver: true);

    /// <summary>
    /// Creates a device queue alone, over zeroed rings: the test plays the driver by writing ring
    /// contents with <see cref="QueuePair.Writer"/> (hostile tests).
    /// </summary>
    /// <param name="config">The configuration.</param>
    /// <param name="bufferSlotSize">The buffer slot size.</param>
    /// <param name="bufferSlotCount">The number of buffer slots; 0 for four per descriptor.</param>
    /// <returns>The pair, without a driver; dispose it.</returns>
    public static QueuePair CreateDeviceOnly(QueueConfig config, int bufferSlotSize = DefaultBufferSlotSize, int bufferSlotCount = 0) =>
        Build(config, bufferSlotSize, bufferSlotCount, withDriver: false);

    private static QueuePair Build(QueueConfig config, int bufferSlotSize, int bufferSlotCount, bool withDriver)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (bufferSlotCount == 0)
        {
            bufferSlotCount = (int)Math.Min(1L << 16, Math.Max(64L, 4L * config.Size));
        }

        QueueMemoryMap map = QueueMemoryMap.Create(config, bufferSlotSize, bufferSlotCount);
        var memory = new GuardedGuestMemory(map.GetRegions());
        try
        {
            IDeviceQueue device;
            IDriverQueue? driver = null;
            if (config.Kind == QueueKind.Split)
            {
                SplitQueueLayout layout = map.Areas.ToSplitLayout();
                if (withDriver)
                {
                    driver = new SplitDriverQueue(memory.Memory, layout, config.Features, map.DriverOptions());
                }

                device = new SplitDeviceQueue(memory.Memory, layout, config.Features);
            }
            else
            {
                PackedQueueLayout layout = map.Areas.ToPackedLayout();
                if (withDriver)
                {
                    driver = new PackedDriverQueue(memory.Memory, layout, config.Features, map.DriverOptions());
                }

                device = new PackedDeviceQueue(memory.Memory, layout, config.Features);
            }

            return new QueuePair(config, map, memory, device, driver);
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }
}
