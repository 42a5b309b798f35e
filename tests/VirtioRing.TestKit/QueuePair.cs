using System;
using VirtioRing.Memory;
using VirtioRing.Queues;

namespace VirtioRing.TestKit;

/// <summary>
/// A driver queue and a device queue over the same guarded guest memory, with a buffer pool, a
/// raw ring writer and a ring inspector. Made by <see cref="QueuePairFactory"/>; disposing it
/// frees the memory (the queues must not be used afterwards).
/// </summary>
public sealed class QueuePair : IDisposable
{
    private readonly IDriverQueue? _driver;

    internal QueuePair(QueueConfig config, QueueMemoryMap map, GuardedGuestMemory memory, IDeviceQueue device, IDriverQueue? driver)
    {
        Config = config;
        Map = map;
        GuardedMemory = memory;
        Device = device;
        _driver = driver;
        Buffers = new GuestBufferPool(memory.Memory, new GuestAddress(QueueMemoryMap.BufferRegionStart), map.BufferSlotSize, map.BufferSlotCount);
        Writer = new HostileRingWriter(memory.Memory, map.Areas);
        Inspector = new RingInspector(memory.Memory, map.Areas);
    }

    /// <summary>Gets the configuration.</summary>
    public QueueConfig Config { get; }

    /// <summary>Gets the layout kind.</summary>
    public QueueKind Kind => Config.Kind;

    /// <summary>Gets the queue size.</summary>
    public int Size => Config.Size;

    /// <summary>Gets the negotiated features.</summary>
    public VirtqueueFeatures Features => Config.Features;

    /// <summary>Gets the memory map (regions, ring areas).</summary>
    public QueueMemoryMap Map { get; }

    /// <summary>Gets the ring areas.</summary>
    public RingAreas Areas => Map.Areas;

    /// <summary>Gets the guarded memory (check <see cref="GuardedGuestMemory.GuardsIntact"/> after a test).</summary>
    public GuardedGuestMemory GuardedMemory { get; }

    /// <summary>Gets the guest memory.</summary>
    public GuestMemory Memory => GuardedMemory.Memory;

    /// <summary>Gets the device side.</summary>
    public IDeviceQueue Device { get; }

    /// <summary>Gets the driver side.</summary>
    /// <exception cref="InvalidOperationException">The pair was made device-only.</exception>
    public IDriverQueue Driver => _driver ?? throw new InvalidOperationException("This pair was created without a driver queue.");

    /// <summary>Gets whether the pair has a driver queue.</summary>
    public bool HasDriver => _driver is not null;

    /// <summary>Gets the guest buffer allocator (buffer region).</summary>
    public GuestBufferPool Buffers { get; }

    /// <summary>Gets a writer of raw ring contents over the pair's rings.</summary>
    public HostileRingWriter Writer { get; }

    /// <summary>Gets a reader of raw ring contents over the pair's rings.</summary>
    public RingInspector Inspector { get; }

    /// <summary>Frees the guest memory.</summary>
    public void Dispose() => GuardedMemory.Dispose();
}
