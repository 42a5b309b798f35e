using System;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Queues.Packed;

/// <summary>A hostile device writes raw used descriptors; the driver must break with a typed fault, not throw.</summary>
public class PackedDriverHostileTests
{
    private static PackedRig DriverWithTwoOutstanding()
    {
        var rig = new PackedRig(8, VirtqueueFeatures.None, withDevice: false);
        rig.Add(1, 0, 1, 1);   // id 0, slots 0-1, 16 writable bytes
        rig.Add(2, 2, 0, 1);   // id 1, slot 2
        rig.Driver.PublishAvailable();
        return rig;
    }

    private static void AssertBroken(PackedRig rig, VirtqueueFault expected)
    {
        Assert.Equal(PopStatus.Broken, rig.Driver.TryReclaimUsed(out UsedBuffer u));
        Assert.Equal(default, u);
        Assert.Equal(expected, rig.Driver.Fault);
        Assert.True(rig.Driver.IsBroken);
        Assert.Equal(PopStatus.Broken, rig.Driver.TryReclaimUsed(out _));
        Assert.Equal(2, rig.Driver.Outstanding);
        Assert.Throws<InvalidOperationException>(() => rig.Driver.TryAddChain(new[] { BufferSegment.Readable(PackedRig.Buffer(5), 1) }, 3));
        Assert.True(rig.Guarded.GuardsIntact());
    }

    [Fact]
    public void TryReclaimUsed_UsedIdNotOutstanding_InvalidUsedId()
    {
        using var rig = DriverWithTwoOutstanding();
        rig.WriteUsed(0, id: 5, length: 0, written: false);
        AssertBroken(rig, VirtqueueFault.InvalidUsedId);
    }

    [Fact]
    public void TryReclaimUsed_UsedIdOutOfRange_InvalidUsedId()
    {
        using var rig = DriverWithTwoOutstanding();
        rig.WriteUsed(0, id: 0xffff, length: 0, written: false);
        AssertBroken(rig, VirtqueueFault.InvalidUsedId);
    }

    [Fact]
    public void TryReclaimUsed_UsedIdReturnedTwice_InvalidUsedId()
    {
        using var rig = DriverWithTwoOutstanding();
        rig.WriteUsed(0, id: 1, length: 0, written: false);
        rig.WriteUsed(1, id: 1, length: 0, written: false);
        Assert.Equal(PopStatus.Popped, rig.Driver.TryReclaimUsed(out UsedBuffer u));
        Assert.Equal(2UL, u.Token);
        Assert.Equal(PopStatus.Broken, rig.Driver.TryReclaimUsed(out _));
        Assert.Equal(VirtqueueFault.InvalidUsedId, rig.Driver.Fault);
    }

    [Fact]
    public void TryReclaimUsed_IdAddedButNotPublished_InvalidUsedId()
    {
        using var rig = DriverWithTwoOutstanding();
        rig.Add(3, 3, 0, 1);   // id 2, slot 3: added, not published
        rig.WriteUsed(0, id: 2, length: 0, written: false);
        Assert.Equal(PopStatus.Broken, rig.Driver.TryReclaimUsed(out UsedBuffer u));
        Assert.Equal(default, u);
        Assert.Equal(VirtqueueFault.InvalidUsedId, rig.Driver.Fault);
        Assert.Equal(3, rig.Driver.Outstanding);
    }

    [Fact]
    public void TryReclaimUsed_InOrderBatchEndingAtUnpublishedId_InvalidUsedId()
    {
        using var rig = new PackedRig(8, VirtqueueFeatures.InOrder, withDevice: false);
        rig.Add(1, 0, 0, 1);   // id 0, slot 0
        rig.Driver.PublishAvailable();
        rig.Add(2, 1, 0, 1);   // id 1, slot 1: added, not published
        rig.WriteUsed(0, id: 1, length: 0, written: false);
        Assert.Equal(PopStatus.Broken, rig.Driver.TryReclaimUsed(out _));
        Assert.Equal(VirtqueueFault.InvalidUsedId, rig.Driver.Fault);
        Assert.Equal(2, rig.Driver.Outstanding);
    }

    [Fact]
    public void TryReclaimUsed_PublishedIdsOverSeveralLaps_PoppedWhileUnpublishedFaults()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None, withDevice: false);
        int slot = 0;
        bool wrap = true;
        for (int round = 0; round < 7; round++)
        {
            // Three published chains, then one added and not published; the device uses the three.
            for (int i = 0; i < 3; i++)
            {
                rig.Add((ulong)i, i, 0, 1);
            }

            rig.Driver.PublishAvailable();
            for (int i = 0; i < 3; i++)
            {
                ushort id = rig.ReadSlot(slot).NextOrId;
                rig.WriteUsed(slot, id, length: 0, written: false, wrap: wrap);
                Assert.Equal(PopStatus.Popped, rig.Driver.TryReclaimUsed(out _));
                if (++slot == 4)
                {
                    slot = 0;
                    wrap = !wrap;
                }
            }

            Assert.False(rig.Driver.IsBroken);
            Assert.Equal(0, rig.Driver.Outstanding);
        }

        rig.Add(9, 9, 0, 1);   // not published
        rig.WriteUsed(slot, rig.ReadSlot(slot).NextOrId, length: 0, written: false, wrap: wrap);
        Assert.Equal(PopStatus.Broken, rig.Driver.TryReclaimUsed(out _));
        Assert.Equal(VirtqueueFault.InvalidUsedId, rig.Driver.Fault);
    }

    [Fact]
    public void TryReclaimUsed_UsedLengthAboveWritableCapacity_InvalidUsedLength()
    {
        using var rig = DriverWithTwoOutstanding();
        rig.WriteUsed(0, id: 0, length: 17, written: true);
        AssertBroken(rig, VirtqueueFault.InvalidUsedLength);
    }

    [Fact]
    public void TryReclaimUsed_LengthWithoutWriteFlag_IgnoredAsReserved()
    {
        using var rig = DriverWithTwoOutstanding();
        rig.WriteUsed(0, id: 0, length: 0xFFFF_FFFF, written: false);
        Assert.Equal(PopStatus.Popped, rig.Driver.TryReclaimUsed(out UsedBuffer u));
        Assert.Equal(1UL, u.Token);
        Assert.Equal(0u, u.WrittenLength);
    }

    [Fact]
    public void TryReclaimUsed_UsedFlagsWithWrongWrap_Empty()
    {
        using var rig = DriverWithTwoOutstanding();
        rig.WriteUsed(0, id: 0, length: 0, written: false, wrap: false);
        Assert.Equal(PopStatus.Empty, rig.Driver.TryReclaimUsed(out _));
        Assert.False(rig.Driver.IsBroken);
    }

    [Fact]
    public void Constructor_RingOutsideMemory_Throws()
    {
        using var g = new GuardedGuestMemory((0x10000, 0x1000));
        Assert.Throws<ArgumentException>(() => new PackedDriverQueue(
            g.Memory, PackedQueueLayout.Contiguous(256, new GuestAddress(0x10000)), VirtqueueFeatures.None));
        Assert.Throws<ArgumentException>(() => new PackedDriverQueue(
            g.Memory, PackedQueueLayout.Contiguous(4, new GuestAddress(0x10000)), VirtqueueFeatures.IndirectDescriptors,
            new DriverQueueOptions(new GuestAddress(0x10800), 64)));
        Assert.True(g.GuardsIntact());
    }

    [Fact]
    public void TryReclaimUsed_BufferOutstandingForManyLaps_IsReclaimedWhenUsed()
    {
        // Out of order, a buffer may stay with the device while the ring goes round many times;
        // when it finally comes back it was published long ago and must be accepted (found by the
        // model-based property with a size-52 ring).
        using var rig = new PackedRig(5, VirtqueueFeatures.None);
        rig.Add(1000, 0, 0, 1);
        rig.Driver.PublishAvailable();
        DescriptorChain held = rig.Pop();
        for (int i = 0; i < 19; i++)   // 19 buffers through a 5-slot ring: almost four laps, so the
        {                              // old head lies where the next unpublished add would be
            rig.Add((ulong)i, 1, 0, 1);
            rig.Driver.PublishAvailable();
            DescriptorChain c = rig.Pop();
            rig.Device.PushUsed(c, 0);
            rig.Device.PublishUsed();
            Assert.Equal((ulong)i, Assert.Single(rig.ReclaimAll()).Token);
        }

        rig.Add(2000, 2, 0, 1);   // one chain added and not yet published while the old one returns
        rig.Device.PushUsed(held, 4);
        rig.Device.PublishUsed();
        UsedBuffer back = Assert.Single(rig.ReclaimAll());
        Assert.Equal(1000UL, back.Token);
        Assert.Equal(4u, back.WrittenLength);
        Assert.False(rig.Driver.IsBroken);
    }
}
