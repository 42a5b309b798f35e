using System;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Split;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Queues.Split;

/// <summary>
/// A hostile driver writes raw descriptors and ring bytes; the device must answer each malformed
/// ring with its typed fault, turn broken, write nothing to the used ring, and stay inside the regions.
/// </summary>
public sealed class SplitDeviceHostileTests : IDisposable
{
    private const int QueueSize = 8;
    private const ulong Data = 0x80000;          // inside the region
    private const ulong Table = 0x90000;         // an indirect table, inside the region
    private const ulong RegionEnd = 0x110000;    // the region is [0x10000, 0x110000)

    private readonly GuardedGuestMemory _guarded = new((0x10000, 0x100000));
    private readonly SplitQueueLayout _layout = SplitQueueLayout.Contiguous(QueueSize, new GuestAddress(0x10000));
    private readonly RawSplitRing _raw;

    public SplitDeviceHostileTests() => _raw = new RawSplitRing(_guarded.Memory, _layout);

    public void Dispose() => _guarded.Dispose();

    [Fact]
    public void TryPopAvailable_DescriptorLoop_FaultsDescriptorLoop()
    {
        _raw.WriteDescriptor(0, Data, 16, DescriptorFlags.Next, next: 1);
        _raw.WriteDescriptor(1, Data, 16, DescriptorFlags.Next, next: 2);
        _raw.WriteDescriptor(2, Data, 16, DescriptorFlags.Next, next: 0);
        AssertFault(VirtqueueFault.DescriptorLoop, head: 0);
    }

    [Fact]
    public void TryPopAvailable_DescriptorPointingToItself_FaultsDescriptorLoop()
    {
        _raw.WriteDescriptor(3, Data, 0, DescriptorFlags.Next, next: 3);
        AssertFault(VirtqueueFault.DescriptorLoop, head: 3);
    }

    [Fact]
    public void TryPopAvailable_ChainLongerThanQueueSize_FaultsChainTooLong()
    {
        // An indirect table of 2 × QueueSize entries, properly chained: longer than the queue allows.
        for (int i = 0; i < 2 * QueueSize; i++)
        {
            _raw.WriteDescriptorAt(new GuestAddress(Table + (ulong)(16 * i)), Data, 16, i < (2 * QueueSize) - 1 ? DescriptorFlags.Next : DescriptorFlags.None, (ushort)(i + 1));
        }

        _raw.WriteDescriptor(0, Table, 16 * 2 * QueueSize, DescriptorFlags.Indirect);
        AssertFault(VirtqueueFault.ChainTooLong, head: 0, VirtqueueFeatures.IndirectDescriptors);
    }

    [Fact]
    public void TryPopAvailable_IndirectInsideIndirect_FaultsNestedIndirect()
    {
        _raw.WriteDescriptorAt(new GuestAddress(Table), Data, 16, DescriptorFlags.Next, 1);
        _raw.WriteDescriptorAt(new GuestAddress(Table + 16), Table + 0x100, 32, DescriptorFlags.Indirect);
        _raw.WriteDescriptor(0, Table, 32, DescriptorFlags.Indirect);
        AssertFault(VirtqueueFault.NestedIndirect, head: 0, VirtqueueFeatures.IndirectDescriptors);
    }

    [Fact]
    public void TryPopAvailable_IndirectLengthNotMultipleOf16_FaultsIndirectTableLength()
    {
        _raw.WriteDescriptorAt(new GuestAddress(Table), Data, 16);
        _raw.WriteDescriptor(0, Table, 24, DescriptorFlags.Indirect);
        AssertFault(VirtqueueFault.IndirectTableLength, head: 0, VirtqueueFeatures.IndirectDescriptors);
    }

    [Fact]
    public void TryPopAvailable_IndirectLengthZero_FaultsIndirectTableLength()
    {
        _raw.WriteDescriptor(0, Table, 0, DescriptorFlags.Indirect);
        AssertFault(VirtqueueFault.IndirectTableLength, head: 0, VirtqueueFeatures.IndirectDescriptors);
    }

    [Fact]
    public void TryPopAvailable_IndirectNotNegotiated_FaultsIndirectNotAllowed()
    {
        _raw.WriteDescriptorAt(new GuestAddress(Table), Data, 16);
        _raw.WriteDescriptor(0, Table, 16, DescriptorFlags.Indirect);
        AssertFault(VirtqueueFault.IndirectNotAllowed, head: 0);
    }

    [Fact]
    public void TryPopAvailable_IndirectWithNext_FaultsIndirectNotAllowed()
    {
        _raw.WriteDescriptorAt(new GuestAddress(Table), Data, 16);
        _raw.WriteDescriptor(0, Table, 16, DescriptorFlags.Indirect | DescriptorFlags.Next, next: 1);
        _raw.WriteDescriptor(1, Data, 16);
        AssertFault(VirtqueueFault.IndirectNotAllowed, head: 0, VirtqueueFeatures.IndirectDescriptors);
    }

    [Fact]
    public void TryPopAvailable_IndirectTableOutsideMemory_FaultsBufferOutOfRange()
    {
        _raw.WriteDescriptor(0, RegionEnd - 16, 32, DescriptorFlags.Indirect);
        AssertFault(VirtqueueFault.BufferOutOfRange, head: 0, VirtqueueFeatures.IndirectDescriptors);
    }

    [Fact]
    public void TryPopAvailable_IndirectNextPastTable_FaultsDescriptorIndexOutOfRange()
    {
        _raw.WriteDescriptorAt(new GuestAddress(Table), Data, 16, DescriptorFlags.Next, 2);   // the table has 2 entries
        _raw.WriteDescriptorAt(new GuestAddress(Table + 16), Data, 16);
        _raw.WriteDescriptor(0, Table, 32, DescriptorFlags.Indirect);
        AssertFault(VirtqueueFault.DescriptorIndexOutOfRange, head: 0, VirtqueueFeatures.IndirectDescriptors);
    }

    [Fact]
    public void TryPopAvailable_LoopInsideIndirectTable_FaultsDescriptorLoop()
    {
        _raw.WriteDescriptorAt(new GuestAddress(Table), Data, 16, DescriptorFlags.Next, 1);
        _raw.WriteDescriptorAt(new GuestAddress(Table + 16), Data, 16, DescriptorFlags.Next, 0);
        _raw.WriteDescriptor(0, Table, 32, DescriptorFlags.Indirect);
        AssertFault(VirtqueueFault.DescriptorLoop, head: 0, VirtqueueFeatures.IndirectDescriptors);
    }

    [Fact]
    public void TryPopAvailable_AddressPlusLengthOverflows_FaultsAddressOverflow()
    {
        _raw.WriteDescriptor(0, ulong.MaxValue - 10, 100);
        AssertFault(VirtqueueFault.AddressOverflow, head: 0);
    }

    [Fact]
    public void TryPopAvailable_BufferOutsideEveryRegion_FaultsBufferOutOfRange()
    {
        _raw.WriteDescriptor(0, Data, 16, DescriptorFlags.Next, 1);
        _raw.WriteDescriptor(1, 0x9000_0000, 16, DescriptorFlags.DeviceWritable);
        AssertFault(VirtqueueFault.BufferOutOfRange, head: 0);
    }

    [Fact]
    public void TryPopAvailable_BufferRunningPastRegionEnd_FaultsBufferOutOfRange()
    {
        _raw.WriteDescriptor(0, RegionEnd - 8, 16);
        AssertFault(VirtqueueFault.BufferOutOfRange, head: 0);
    }

    [Fact]
    public void TryPopAvailable_AvailIndexAheadByMoreThanSize_FaultsAvailIndexJump()
    {
        _raw.WriteDescriptor(0, Data, 16);
        var device = NewDevice();
        _raw.SetAvailIndex(QueueSize + 1);
        AssertBroken(device, VirtqueueFault.AvailIndexJump);
    }

    [Fact]
    public void TryPopAvailable_AvailIndexAheadByExactlySize_PopsEveryChain()
    {
        _raw.WriteDescriptor(0, Data, 16);
        var device = NewDevice();
        _raw.MakeAvailable(0, 0, 0, 0, 0, 0, 0, 0);   // the same head 8 times: allowed while the device keeps up
        for (int i = 0; i < QueueSize; i++)
        {
            Assert.Equal(PopStatus.Popped, device.TryPopAvailable(out DescriptorChain chain));
            device.PushUsed(chain, 0);
        }

        Assert.Equal(PopStatus.Empty, device.TryPopAvailable(out _));
        Assert.False(device.IsBroken);
    }

    [Fact]
    public void TryPopAvailable_WritableBeforeReadable_FaultsWritableBeforeReadable()
    {
        _raw.WriteDescriptor(0, Data, 16, DescriptorFlags.DeviceWritable | DescriptorFlags.Next, 1);
        _raw.WriteDescriptor(1, Data + 16, 16);
        AssertFault(VirtqueueFault.WritableBeforeReadable, head: 0);
    }

    [Fact]
    public void Constructor_UsedRingOutsideMemory_StartsBrokenWithRingOutOfRange()
    {
        var layout = new SplitQueueLayout(QueueSize, _layout.DescriptorTable, _layout.AvailableRing, new GuestAddress(0x9000_0000));
        var device = new SplitDeviceQueue(_guarded.Memory, layout, VirtqueueFeatures.None);
        _raw.WriteDescriptor(0, Data, 16);
        _raw.MakeAvailable(0);
        Assert.Equal(VirtqueueFault.RingOutOfRange, device.Fault);
        Assert.True(device.IsBroken);
        Assert.Equal(PopStatus.Broken, device.TryPopAvailable(out _));
        Assert.False(device.EnableNotifications());
        Assert.False(device.ShouldNotifyDriver());
        Assert.Equal(0, device.PublishUsed());
        Assert.True(_guarded.GuardsIntact());
    }

    [Fact]
    public void Constructor_UsedRingStraddlingRegionEnd_StartsBrokenWithRingOutOfRange()
    {
        var layout = new SplitQueueLayout(QueueSize, _layout.DescriptorTable, _layout.AvailableRing, new GuestAddress(RegionEnd - 32));
        var device = new SplitDeviceQueue(_guarded.Memory, layout, VirtqueueFeatures.None);
        Assert.Equal(VirtqueueFault.RingOutOfRange, device.Fault);
        Assert.Equal(PopStatus.Broken, device.TryPopAvailable(out _));
    }

    [Fact]
    public void Memory_SetToTableWithoutRings_BreaksWithRingOutOfRange()
    {
        var device = NewDevice();
        using var elsewhere = GuestMemory.Allocate(new GuestAddress(0x1000_0000), 0x1000);
        device.Memory = elsewhere;
        Assert.Equal(VirtqueueFault.RingOutOfRange, device.Fault);
        Assert.Equal(PopStatus.Broken, device.TryPopAvailable(out _));
        Assert.True(_guarded.GuardsIntact());
    }

    [Fact]
    public void TryPopAvailable_MemorySetWithoutBufferRegion_FaultsBufferOutOfRange()
    {
        // The queue's last-hit translation hint must not outlive the table it came from.
        var device = NewDevice();
        _raw.WriteDescriptor(0, Data, 16, DescriptorFlags.DeviceWritable);
        _raw.MakeAvailable(0);
        Assert.Equal(PopStatus.Popped, device.TryPopAvailable(out DescriptorChain chain));
        device.PushUsed(chain, 0);
        Assert.Equal(1, device.PublishUsed());

        // Same host memory, but only the first 16 KiB (the rings) are mapped: Data is no longer guest memory.
        GuestRegion whole = _guarded.Memory.Regions[0];
        using var ringsOnly = new GuestMemory(new[] { GuestRegion.FromHost(whole.Start, whole.HostAddress, 0x4000) }, ownsRegions: false);
        device.Memory = ringsOnly;
        Assert.False(device.IsBroken);
        _raw.MakeAvailable(0);
        Assert.Equal(PopStatus.Broken, device.TryPopAvailable(out DescriptorChain stale));
        Assert.Equal(0, stale.SegmentCount);
        Assert.Equal(VirtqueueFault.BufferOutOfRange, device.Fault);
        Assert.Equal(0, device.InFlight);
        Assert.True(_guarded.GuardsIntact());
    }

    [Fact]
    public void TryPopAvailable_SingleDescriptorWhenEverySlotHeld_FaultsTooManyInFlight()
    {
        _raw.WriteDescriptor(0, Data, 16);
        var device = NewDevice();
        _raw.MakeAvailable(0, 0, 0, 0, 0, 0, 0, 0);
        for (int i = 0; i < QueueSize; i++)
        {
            Assert.Equal(PopStatus.Popped, device.TryPopAvailable(out _));   // held, never pushed
        }

        _raw.MakeAvailable(0);
        AssertBroken(device, VirtqueueFault.TooManyInFlight, expectedInFlight: QueueSize);
    }

    [Fact]
    public void TryPopAvailable_HeadIndexOutOfRange_FaultsDescriptorIndexOutOfRange()
    {
        AssertFault(VirtqueueFault.DescriptorIndexOutOfRange, head: QueueSize);
    }

    [Fact]
    public void TryPopAvailable_NextIndexOutOfRange_FaultsDescriptorIndexOutOfRange()
    {
        _raw.WriteDescriptor(0, Data, 16, DescriptorFlags.Next, next: 0xffff);
        AssertFault(VirtqueueFault.DescriptorIndexOutOfRange, head: 0);
    }

    [Fact]
    public void TryPopAvailable_ChainOver4GiB_FaultsChainTooLarge()
    {
        // The second buffer would take the total past 2^32 - 1: rejected before any translation.
        _raw.WriteDescriptor(0, Data, 0x1000, DescriptorFlags.Next, 1);
        _raw.WriteDescriptor(1, Data, 0xFFFF_F000, DescriptorFlags.DeviceWritable);
        AssertFault(VirtqueueFault.ChainTooLarge, head: 0);
    }

    [Fact]
    public void TryPopAvailable_DriverReusesHeldDescriptors_FaultsTooManyInFlight()
    {
        _raw.WriteDescriptor(0, Data, 16);
        var device = NewDevice();
        _raw.MakeAvailable(0, 0, 0, 0, 0, 0, 0, 0);
        for (int i = 0; i < QueueSize; i++)
        {
            Assert.Equal(PopStatus.Popped, device.TryPopAvailable(out _));   // all held
        }

        _raw.MakeAvailable(0);
        AssertBroken(device, VirtqueueFault.TooManyInFlight, expectedInFlight: QueueSize);
    }

    [Fact]
    public void TryPopAvailable_FaultAfterGoodChain_KeepsGoodChainHeldAndPublishesNothing()
    {
        _raw.WriteDescriptor(0, Data, 16, DescriptorFlags.DeviceWritable);
        _raw.WriteDescriptor(1, 0x9000_0000, 16);
        var device = NewDevice();
        _raw.MakeAvailable(0, 1);
        Assert.Equal(PopStatus.Popped, device.TryPopAvailable(out DescriptorChain good));
        Assert.Equal(PopStatus.Broken, device.TryPopAvailable(out _));
        device.PushUsed(good, 16);   // released, but a broken queue writes nothing
        Assert.Equal(0, device.InFlight);
        AssertBroken(device, VirtqueueFault.BufferOutOfRange);
    }

    [Fact]
    public void Reset_AfterFault_ClearsFaultAndReadsFromZero()
    {
        var device = NewDevice();
        _raw.MakeAvailable(QueueSize);   // a bad head
        Assert.Equal(PopStatus.Broken, device.TryPopAvailable(out _));
        _raw.WriteDescriptor(0, Data, 16);
        _raw.SetAvailIndex(0);
        _raw.MakeAvailable(0);
        device.Reset();
        Assert.Equal(PopStatus.Popped, device.TryPopAvailable(out _));
    }

    private SplitDeviceQueue NewDevice(VirtqueueFeatures features = VirtqueueFeatures.None) =>
        new(_guarded.Memory, _layout, features);

    private void AssertFault(VirtqueueFault expected, ushort head, VirtqueueFeatures features = VirtqueueFeatures.None)
    {
        SplitDeviceQueue device = NewDevice(features);
        _raw.MakeAvailable(head);
        AssertBroken(device, expected);
    }

    private void AssertBroken(SplitDeviceQueue device, VirtqueueFault expected, int expectedInFlight = 0)
    {
        Assert.Equal(PopStatus.Broken, device.TryPopAvailable(out DescriptorChain chain));
        Assert.Equal(0, chain.SegmentCount);
        Assert.Equal(expected, device.Fault);
        Assert.True(device.IsBroken);
        Assert.Equal(expectedInFlight, device.InFlight);

        // Later pops stay broken, even once the ring looks fine again.
        _raw.WriteDescriptor(0, Data, 16);
        _raw.SetAvailIndex(1);
        Assert.Equal(PopStatus.Broken, device.TryPopAvailable(out _));
        Assert.Equal(0, device.PublishUsed());
        Assert.False(device.ShouldNotifyDriver());

        Assert.All(_raw.UsedRingBytes(), b => Assert.Equal(0, b));   // nothing written to the used ring
        Assert.True(_guarded.GuardsIntact());
    }
}
