using System;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Split;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Queues.Split;

/// <summary>A driver and a device over the same guarded guest memory: rings, indirect area, data buffers.</summary>
internal sealed class SplitPair : IDisposable
{
    public const ulong RegionStart = 0x10000;
    public const ulong RegionSize = 0x400000;
    public const ulong RingStart = 0x10000;
    public const ulong IndirectStart = 0x40000;
    public const ulong DataStart = 0x100000;
    public const ulong DataSlot = 0x1000;

    public SplitPair(int size, VirtqueueFeatures features, int maxIndirect = 0)
    {
        Guarded = new GuardedGuestMemory((RegionStart, RegionSize));
        Layout = SplitQueueLayout.Contiguous(size, new GuestAddress(RingStart));
        Options = new DriverQueueOptions(new GuestAddress(IndirectStart), maxIndirect);
        Driver = new SplitDriverQueue(Memory, Layout, features, Options);
        Device = new SplitDeviceQueue(Memory, Layout, features);
        Raw = new RawSplitRing(Memory, Layout);
    }

    public GuardedGuestMemory Guarded { get; }

    public GuestMemory Memory => Guarded.Memory;

    public SplitQueueLayout Layout { get; }

    public DriverQueueOptions Options { get; }

    public SplitDriverQueue Driver { get; }

    public SplitDeviceQueue Device { get; }

    public RawSplitRing Raw { get; }

    /// <summary>The guest address of data slot <paramref name="i"/> (4 KiB each).</summary>
    public static GuestAddress Data(int i) => new(DataStart + ((ulong)i * DataSlot));

    public void AddAndPublish(ulong token, params BufferSegment[] segments)
    {
        Assert.True(Driver.TryAddChain(segments, token));
        Driver.PublishAvailable();
    }

    public DescriptorChain Pop()
    {
        Assert.Equal(PopStatus.Popped, Device.TryPopAvailable(out DescriptorChain chain));
        return chain;
    }

    public UsedBuffer Reclaim()
    {
        Assert.Equal(PopStatus.Popped, Driver.TryReclaimUsed(out UsedBuffer used));
        return used;
    }

    public void Dispose() => Guarded.Dispose();
}
