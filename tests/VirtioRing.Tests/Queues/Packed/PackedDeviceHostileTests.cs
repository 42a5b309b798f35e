using System;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Queues.Packed;

/// <summary>
/// A hostile driver writes raw descriptors; the device must answer with a typed fault, break the
/// queue, write nothing into the ring, and touch nothing outside guest memory.
/// </summary>
public class PackedDeviceHostileTests
{
    private const ulong Buf = PackedRig.BufferBase;
    private const ulong Table = PackedRig.IndirectBase;

    private static PackedRig DeviceOnly(int size = 8, VirtqueueFeatures features = VirtqueueFeatures.None) =>
        new(size, features, withDriver: false);

    /// <summary>Pops, expects the fault, and checks the queue stays broken and the ring untouched.</summary>
    private static void AssertFault(PackedRig rig, VirtqueueFault expected)
    {
        byte[] before = rig.SnapshotRingArea();
        int inFlight = rig.Device.InFlight;
        Assert.Equal(PopStatus.Broken, rig.Device.TryPopAvailable(out DescriptorChain chain));
        Assert.Equal(expected, rig.Device.Fault);
        Assert.True(rig.Device.IsBroken);
        Assert.Equal(0, chain.SegmentCount);
        Assert.Equal(inFlight, rig.Device.InFlight);   // the failed walk took no slot
        Assert.Equal(PopStatus.Broken, rig.Device.TryPopAvailable(out _));

        // Nothing more goes into guest memory from a broken queue.
        Assert.Equal(0, rig.Device.PublishUsed());
        Assert.False(rig.Device.ShouldNotifyDriver());
        rig.Device.DisableNotifications();
        Assert.False(rig.Device.EnableNotifications());
        Assert.Equal(before, rig.SnapshotRingArea());
        Assert.True(rig.Guarded.GuardsIntact());
    }

    [Fact]
    public void TryPopAvailable_ChainLongerThanQueue_ChainTooLong()
    {
        // Every slot has NEXT: the packed ring's loop.
        using var rig = DeviceOnly(8);
        for (int i = 0; i < 8; i++)
        {
            rig.WriteAvailable(i, Buf + ((ulong)i * 16), 16, DescriptorFlags.Next, 0);
        }

        AssertFault(rig, VirtqueueFault.ChainTooLong);
    }

    [Fact]
    public void TryPopAvailable_IndirectInsideIndirect_NestedIndirect()
    {
        using var rig = DeviceOnly(8, VirtqueueFeatures.IndirectDescriptors);
        new Descriptor(new GuestAddress(Buf), 16, DescriptorFlags.None, 0).WritePacked(rig.Memory.GetSpan(new GuestAddress(Table), 16));
        new Descriptor(new GuestAddress(Table + 0x100), 16, DescriptorFlags.Indirect, 0).WritePacked(rig.Memory.GetSpan(new GuestAddress(Table + 16), 16));
        rig.WriteAvailable(0, Table, 32, DescriptorFlags.Indirect, 0);
        AssertFault(rig, VirtqueueFault.NestedIndirect);
    }

    [Fact]
    public void TryPopAvailable_IndirectLengthNotMultipleOf16_IndirectTableLength()
    {
        using var rig = DeviceOnly(8, VirtqueueFeatures.IndirectDescriptors);
        rig.WriteAvailable(0, Table, 24, DescriptorFlags.Indirect, 0);
        AssertFault(rig, VirtqueueFault.IndirectTableLength);
    }

    [Fact]
    public void TryPopAvailable_IndirectLengthZero_IndirectTableLength()
    {
        using var rig = DeviceOnly(8, VirtqueueFeatures.IndirectDescriptors);
        rig.WriteAvailable(0, Table, 0, DescriptorFlags.Indirect, 0);
        AssertFault(rig, VirtqueueFault.IndirectTableLength);
    }

    [Fact]
    public void TryPopAvailable_IndirectTableLongerThanQueue_ChainTooLong()
    {
        using var rig = DeviceOnly(4, VirtqueueFeatures.IndirectDescriptors);
        for (int i = 0; i < 5; i++)
        {
            new Descriptor(new GuestAddress(Buf), 1, DescriptorFlags.None, 0).WritePacked(rig.Memory.GetSpan(new GuestAddress(Table + ((ulong)i * 16)), 16));
        }

        rig.WriteAvailable(0, Table, 5 * 16, DescriptorFlags.Indirect, 0);
        AssertFault(rig, VirtqueueFault.ChainTooLong);
    }

    [Fact]
    public void TryPopAvailable_IndirectNotNegotiated_IndirectNotAllowed()
    {
        using var rig = DeviceOnly(8);
        rig.WriteAvailable(0, Table, 16, DescriptorFlags.Indirect, 0);
        AssertFault(rig, VirtqueueFault.IndirectNotAllowed);
    }

    [Fact]
    public void TryPopAvailable_IndirectWithNext_IndirectNotAllowed()
    {
        using var rig = DeviceOnly(8, VirtqueueFeatures.IndirectDescriptors);
        new Descriptor(new GuestAddress(Buf), 16, DescriptorFlags.None, 0).WritePacked(rig.Memory.GetSpan(new GuestAddress(Table), 16));
        rig.WriteAvailable(0, Table, 16, DescriptorFlags.Indirect | DescriptorFlags.Next, 0);
        rig.WriteAvailable(1, Buf, 16, DescriptorFlags.None, 0);
        AssertFault(rig, VirtqueueFault.IndirectNotAllowed);
    }

    [Fact]
    public void TryPopAvailable_IndirectAfterDirectInList_IndirectNotAllowed()
    {
        using var rig = DeviceOnly(8, VirtqueueFeatures.IndirectDescriptors);
        new Descriptor(new GuestAddress(Buf), 16, DescriptorFlags.None, 0).WritePacked(rig.Memory.GetSpan(new GuestAddress(Table), 16));
        rig.WriteAvailable(0, Buf, 16, DescriptorFlags.Next, 0);
        rig.WriteAvailable(1, Table, 16, DescriptorFlags.Indirect, 0);
        AssertFault(rig, VirtqueueFault.IndirectNotAllowed);
    }

    [Fact]
    public void TryPopAvailable_IndirectTableOutsideMemory_BufferOutOfRange()
    {
        using var rig = DeviceOnly(8, VirtqueueFeatures.IndirectDescriptors);
        rig.WriteAvailable(0, 0x9000_0000, 16, DescriptorFlags.Indirect, 0);
        AssertFault(rig, VirtqueueFault.BufferOutOfRange);
    }

    [Fact]
    public void TryPopAvailable_AddressPlusLengthOverflows_AddressOverflow()
    {
        using var rig = DeviceOnly(8);
        rig.WriteAvailable(0, ulong.MaxValue - 7, 16, DescriptorFlags.None, 0);
        AssertFault(rig, VirtqueueFault.AddressOverflow);
    }

    [Fact]
    public void TryPopAvailable_BufferOutsideEveryRegion_BufferOutOfRange()
    {
        using var rig = DeviceOnly(8);
        rig.WriteAvailable(0, 0x5000_0000, 16, DescriptorFlags.None, 0);
        AssertFault(rig, VirtqueueFault.BufferOutOfRange);
    }

    [Fact]
    public void TryPopAvailable_BufferRunsPastRegionEnd_BufferOutOfRange()
    {
        using var rig = DeviceOnly(8);
        rig.WriteAvailable(0, PackedRig.DataBase + PackedRig.DataSize - 8, 16, DescriptorFlags.None, 0);
        AssertFault(rig, VirtqueueFault.BufferOutOfRange);
    }

    [Fact]
    public void TryPopAvailable_WritableBeforeReadable_WritableBeforeReadable()
    {
        using var rig = DeviceOnly(8);
        rig.WriteAvailable(0, Buf, 16, DescriptorFlags.Next | DescriptorFlags.DeviceWritable, 0);
        rig.WriteAvailable(1, Buf + 16, 16, DescriptorFlags.None, 0);
        AssertFault(rig, VirtqueueFault.WritableBeforeReadable);
    }

    [Fact]
    public void TryPopAvailable_BufferIdOutOfRange_DescriptorIndexOutOfRange()
    {
        using var rig = DeviceOnly(8);
        rig.WriteAvailable(0, Buf, 16, DescriptorFlags.None, 8);
        AssertFault(rig, VirtqueueFault.DescriptorIndexOutOfRange);
    }

    [Fact]
    public void TryPopAvailable_ChainOver4GiB_ChainTooLarge()
    {
        using var rig = DeviceOnly(8);
        rig.WriteAvailable(0, Buf, 16, DescriptorFlags.Next, 0);
        rig.WriteAvailable(1, Buf, uint.MaxValue, DescriptorFlags.None, 0);
        AssertFault(rig, VirtqueueFault.ChainTooLarge);
    }

    [Fact]
    public void TryPopAvailable_BufferIdAlreadyInFlight_TooManyInFlight()
    {
        using var rig = DeviceOnly(8);
        rig.WriteAvailable(0, Buf, 16, DescriptorFlags.None, 3);
        rig.WriteAvailable(1, Buf, 16, DescriptorFlags.None, 3);
        Assert.Equal(PopStatus.Popped, rig.Device.TryPopAvailable(out DescriptorChain held));
        AssertFault(rig, VirtqueueFault.TooManyInFlight);
        Assert.True(held.IsHeld);
    }

    [Fact]
    public void TryPopAvailable_DriverReexposesSlotsInFlight_TooManyInFlight()
    {
        // Size 2: both slots popped and held; the driver marks slot 0 available again in the next lap.
        using var rig = DeviceOnly(2);
        rig.WriteAvailable(0, Buf, 16, DescriptorFlags.None, 0);
        rig.WriteAvailable(1, Buf, 16, DescriptorFlags.None, 1);
        Assert.Equal(PopStatus.Popped, rig.Device.TryPopAvailable(out _));
        Assert.Equal(PopStatus.Popped, rig.Device.TryPopAvailable(out _));
        rig.WriteAvailable(0, Buf, 16, DescriptorFlags.None, 0, wrap: false);
        AssertFault(rig, VirtqueueFault.TooManyInFlight);
    }

    [Fact]
    public void TryPopAvailable_HeadExposedBeforeRestOfChain_EmptyUntilComplete()
    {
        using var rig = DeviceOnly(8);
        rig.WriteAvailable(0, Buf, 16, DescriptorFlags.Next, 0);
        rig.WriteAvailable(1, Buf + 16, 16, DescriptorFlags.Next, 0);   // slot 2 not yet available
        byte[] before = rig.SnapshotRingArea();
        Assert.Equal(PopStatus.Empty, rig.Device.TryPopAvailable(out _));
        Assert.Equal(PopStatus.Empty, rig.Device.TryPopAvailable(out _));
        Assert.False(rig.Device.IsBroken);
        Assert.Equal(0, rig.Device.InFlight);
        Assert.Equal(before, rig.SnapshotRingArea());

        rig.WriteAvailable(2, Buf + 32, 16, DescriptorFlags.DeviceWritable, 5);
        Assert.Equal(PopStatus.Popped, rig.Device.TryPopAvailable(out DescriptorChain c));
        Assert.Equal(5, c.Id);
        Assert.Equal(3, c.SegmentCount);
        Assert.True(rig.Guarded.GuardsIntact());
    }

    [Fact]
    public void TryPopAvailable_PairWithSecondNotYetAvailable_EmptyUntilComplete()
    {
        // The two-descriptor fast path (header + payload) must not take a half-published pair.
        using var rig = DeviceOnly(8);
        rig.WriteAvailable(0, Buf, 12, DescriptorFlags.Next, 0);   // slot 1 not yet available
        byte[] before = rig.SnapshotRingArea();
        Assert.Equal(PopStatus.Empty, rig.Device.TryPopAvailable(out _));
        Assert.Equal(0, rig.Device.InFlight);
        Assert.Equal(before, rig.SnapshotRingArea());

        rig.WriteAvailable(1, Buf + 16, 64, DescriptorFlags.DeviceWritable, 3);
        Assert.Equal(PopStatus.Popped, rig.Device.TryPopAvailable(out DescriptorChain c));
        Assert.Equal(3, c.Id);
        Assert.Equal(2, c.SegmentCount);
        Assert.Equal(12u, c.ReadableLength);
        Assert.Equal(64u, c.WritableLength);
        Assert.True(rig.Guarded.GuardsIntact());
    }

    [Fact]
    public void TryPopAvailable_IdTakenFromLastDescriptor()
    {
        using var rig = DeviceOnly(8);
        rig.WriteAvailable(0, Buf, 16, DescriptorFlags.Next, 7);
        rig.WriteAvailable(1, Buf + 16, 16, DescriptorFlags.None, 2);
        Assert.Equal(PopStatus.Popped, rig.Device.TryPopAvailable(out DescriptorChain c));
        Assert.Equal(2, c.Id);
    }

    [Fact]
    public void TryPopAvailable_IndirectEntriesNextFlagIgnored_ReadSequentially()
    {
        using var rig = DeviceOnly(8, VirtqueueFeatures.IndirectDescriptors);
        new Descriptor(new GuestAddress(Buf), 16, DescriptorFlags.Next, 99).WritePacked(rig.Memory.GetSpan(new GuestAddress(Table), 16));
        new Descriptor(new GuestAddress(Buf + 16), 32, DescriptorFlags.DeviceWritable, 99).WritePacked(rig.Memory.GetSpan(new GuestAddress(Table + 16), 16));
        rig.WriteAvailable(0, Table, 32, DescriptorFlags.Indirect | DescriptorFlags.DeviceWritable, 4);
        Assert.Equal(PopStatus.Popped, rig.Device.TryPopAvailable(out DescriptorChain c));
        Assert.Equal(4, c.Id);
        Assert.Equal(2, c.SegmentCount);
        Assert.Equal(1, c.ReadableCount);
        Assert.Equal(32u, c.WritableLength);
        Assert.Equal(1, c.DescriptorCount);
    }

    [Fact]
    public void Constructor_RingOutsideMemory_BrokenWithRingOutOfRange()
    {
        using var g = new GuardedGuestMemory((0x10000, 0x1000));
        var q = new PackedDeviceQueue(g.Memory, PackedQueueLayout.Contiguous(256, new GuestAddress(0x10000)), VirtqueueFeatures.None);   // 4 KiB + 8 bytes
        Assert.True(q.IsBroken);
        Assert.Equal(VirtqueueFault.RingOutOfRange, q.Fault);
        Assert.Equal(PopStatus.Broken, q.TryPopAvailable(out _));
        Assert.False(q.ShouldNotifyDriver());
        Assert.False(q.EnableNotifications());
        q.DisableNotifications();
        Assert.Equal(0, q.PublishUsed());
        q.Reset();
        Assert.Equal(VirtqueueFault.RingOutOfRange, q.Fault);
        Assert.True(g.GuardsIntact());
    }

    [Theory]
    [InlineData(0x5000UL, 0x10100UL)]
    [InlineData(0x10100UL, 0x5000UL)]
    public void Constructor_EventStructureOutsideMemory_BrokenWithRingOutOfRange(ulong driverArea, ulong deviceArea)
    {
        using var g = new GuardedGuestMemory((0x10000, 0x1000));
        var layout = new PackedQueueLayout(4, new GuestAddress(0x10000), new GuestAddress(driverArea), new GuestAddress(deviceArea));
        var q = new PackedDeviceQueue(g.Memory, layout, VirtqueueFeatures.EventIndex);
        Assert.Equal(VirtqueueFault.RingOutOfRange, q.Fault);
        Assert.Equal(PopStatus.Broken, q.TryPopAvailable(out _));
        Assert.True(g.GuardsIntact());
    }

    [Fact]
    public void Memory_SetToTableWithoutRing_BreaksWithRingOutOfRange()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        using GuestMemory other = rig.Memory.WithoutRegion(new GuestAddress(PackedRig.RingBase));
        rig.Add(1, 0, 0, 1);
        rig.Driver.PublishAvailable();
        DescriptorChain held = rig.Pop();
        rig.Device.Memory = other;
        Assert.Equal(VirtqueueFault.RingOutOfRange, rig.Device.Fault);
        Assert.Equal(PopStatus.Broken, rig.Device.TryPopAvailable(out _));
        rig.Device.PushUsed(held, 0);   // released, nothing written
        Assert.Equal(0, rig.Device.PublishUsed());
        Assert.Equal(0, rig.Device.InFlight);

        rig.Device.Memory = rig.Memory;
        rig.Device.Reset();
        Assert.False(rig.Device.IsBroken);
        Assert.True(rig.Guarded.GuardsIntact());
    }

    /// <summary>Random bytes as a ring: the device must only ever pop, say empty, or break, and never write outside.</summary>
    [Fact]
    public void TryPopAvailable_RandomRingBytes_NeverThrowsAndTerminates()
    {
        var rng = new Random(1234);
        for (int round = 0; round < 300; round++)
        {
            int size = rng.Next(1, 17);
            var features = (VirtqueueFeatures)rng.Next(0, 8);
            using var rig = new PackedRig(size, features, withDriver: false);
            var bytes = new byte[size * 16];
            rng.NextBytes(bytes);
            for (int i = 0; i < size; i++)
            {
                // Steer addresses into the data region half the time, so walks get deep.
                if (rng.Next(2) == 0)
                {
                    BitConverter.TryWriteBytes(bytes.AsSpan(i * 16), PackedRig.DataBase + (ulong)rng.Next(0, 0x1000));
                    BitConverter.TryWriteBytes(bytes.AsSpan((i * 16) + 8), (uint)rng.Next(0, 0x200));
                }
            }

            bytes.CopyTo(rig.Memory.GetSpan(rig.Layout.DescriptorRing, (ulong)bytes.Length));
            rng.NextBytes(rig.Memory.GetSpan(new GuestAddress(PackedRig.IndirectBase), 0x1000));
            for (int pops = 0; pops < 4 * size; pops++)
            {
                PopStatus s = rig.Device.TryPopAvailable(out DescriptorChain c);
                if (s == PopStatus.Popped && rng.Next(2) == 0)
                {
                    rig.Device.PushUsed(c, c.WritableLength);
                    rig.Device.PublishUsed();
                    rig.Device.ShouldNotifyDriver();
                }
                else if (s != PopStatus.Popped)
                {
                    Assert.Equal(s == PopStatus.Broken, rig.Device.IsBroken);
                    break;
                }
            }

            Assert.True(rig.Guarded.GuardsIntact());
        }
    }
}
