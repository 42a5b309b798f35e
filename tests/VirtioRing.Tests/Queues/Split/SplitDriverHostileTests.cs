using System;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Split;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Queues.Split;

/// <summary>A hostile device writes raw used elements; the driver must answer with a typed fault.</summary>
public class SplitDriverHostileTests
{
    [Theory]
    [InlineData(8U)]
    [InlineData(0xffffU)]
    [InlineData(uint.MaxValue)]
    public void TryReclaimUsed_IdOutOfRange_FaultsInvalidUsedId(uint id)
    {
        using var pair = NewPair();
        pair.Raw.WriteUsedElement(0, id, 0);
        pair.Raw.UsedIndex = 1;
        AssertBroken(pair, VirtqueueFault.InvalidUsedId);
    }

    [Fact]
    public void TryReclaimUsed_IdNotOutstanding_FaultsInvalidUsedId()
    {
        using var pair = NewPair();   // heads 0 and 2 are outstanding
        pair.Raw.WriteUsedElement(0, 5, 0);
        pair.Raw.UsedIndex = 1;
        AssertBroken(pair, VirtqueueFault.InvalidUsedId);
    }

    [Fact]
    public void TryReclaimUsed_IdReturnedTwice_FaultsInvalidUsedId()
    {
        using var pair = NewPair();
        pair.Raw.WriteUsedElement(0, 0, 0);
        pair.Raw.WriteUsedElement(1, 0, 0);
        pair.Raw.UsedIndex = 2;
        Assert.Equal(PopStatus.Popped, pair.Driver.TryReclaimUsed(out _));
        AssertBroken(pair, VirtqueueFault.InvalidUsedId);
    }

    [Fact]
    public void TryReclaimUsed_IdAddedButNotPublished_FaultsInvalidUsedId()
    {
        using var pair = NewPair();
        Assert.True(pair.Driver.TryAddChain(new[] { BufferSegment.Writable(SplitPair.Data(2), 8) }, 3));   // head 3, not published
        pair.Raw.WriteUsedElement(0, 3, 0);
        pair.Raw.UsedIndex = 1;
        AssertBroken(pair, VirtqueueFault.InvalidUsedId);
    }

    [Fact]
    public void TryReclaimUsed_LengthOverWritableCapacity_FaultsInvalidUsedLength()
    {
        using var pair = NewPair();   // head 0 has 8 writable bytes
        pair.Raw.WriteUsedElement(0, 0, 9);
        pair.Raw.UsedIndex = 1;
        AssertBroken(pair, VirtqueueFault.InvalidUsedLength);
    }

    [Fact]
    public void TryReclaimUsed_UsedIndexAheadOfPublished_FaultsUsedIndexJump()
    {
        using var pair = NewPair();   // 2 published
        pair.Raw.WriteUsedElement(0, 0, 0);
        pair.Raw.WriteUsedElement(1, 2, 0);
        pair.Raw.UsedIndex = 3;
        AssertBroken(pair, VirtqueueFault.UsedIndexJump);
    }

    [Fact]
    public void TryReclaimUsed_InOrderIdBeyondUsedIndex_FaultsInvalidUsedId()
    {
        using var pair = NewPair(VirtqueueFeatures.InOrder);
        pair.Raw.WriteUsedElement(0, 2, 0);   // says "both chains", but used.idx only moved by one
        pair.Raw.UsedIndex = 1;
        AssertBroken(pair, VirtqueueFault.InvalidUsedId);
    }

    [Fact]
    public void TryReclaimUsed_ValidElement_ReturnsToken()
    {
        using var pair = NewPair();
        pair.Raw.WriteUsedElement(0, 2, 8);
        pair.Raw.UsedIndex = 1;
        Assert.Equal(PopStatus.Popped, pair.Driver.TryReclaimUsed(out UsedBuffer used));
        Assert.Equal((2UL, 8U), (used.Token, used.WrittenLength));
    }

    [Fact]
    public void Constructor_RingOutsideMemory_ThrowsGuestMemoryException()
    {
        using var guarded = new GuardedGuestMemory((0x10000, 0x10000));
        var layout = new SplitQueueLayout(8, new GuestAddress(0x10000), new GuestAddress(0x11000), new GuestAddress(0x9000_0000));
        Assert.Throws<GuestMemoryException>(() => new SplitDriverQueue(guarded.Memory, layout, VirtqueueFeatures.None));
    }

    [Fact]
    public void Constructor_IndirectAreaOutsideMemory_ThrowsGuestMemoryException()
    {
        using var guarded = new GuardedGuestMemory((0x10000, 0x10000));
        SplitQueueLayout layout = SplitQueueLayout.Contiguous(8, new GuestAddress(0x10000));
        var options = new DriverQueueOptions(new GuestAddress(0x1F000), 64);   // 8 × 64 × 16 bytes do not fit
        Assert.Throws<GuestMemoryException>(() => new SplitDriverQueue(guarded.Memory, layout, VirtqueueFeatures.IndirectDescriptors, options));

        // Without the feature the area is not used, so it is not checked.
        _ = new SplitDriverQueue(guarded.Memory, layout, VirtqueueFeatures.None, options);
    }

    [Fact]
    public void Constructor_MisalignedIndirectArea_ThrowsArgumentException()
    {
        using var guarded = new GuardedGuestMemory((0x10000, 0x10000));
        SplitQueueLayout layout = SplitQueueLayout.Contiguous(8, new GuestAddress(0x10000));
        Assert.Throws<ArgumentException>(() => new SplitDriverQueue(guarded.Memory, layout, VirtqueueFeatures.IndirectDescriptors, new DriverQueueOptions(new GuestAddress(0x14008), 4)));
    }

    [Fact]
    public void Constructor_Always_ZeroesRingAreas()
    {
        using var guarded = new GuardedGuestMemory((0x10000, 0x10000));
        SplitQueueLayout layout = SplitQueueLayout.Contiguous(8, new GuestAddress(0x10000));
        guarded.Memory.GetSpan(new GuestAddress(0x10000), SplitQueueLayout.ContiguousBytes(8)).Fill(0xcc);
        _ = new SplitDriverQueue(guarded.Memory, layout, VirtqueueFeatures.None);
        Assert.All(guarded.Memory.GetSpan(layout.DescriptorTable, SplitQueueLayout.DescriptorTableBytes(8)).ToArray(), b => Assert.Equal(0, b));
        Assert.All(guarded.Memory.GetSpan(layout.AvailableRing, SplitQueueLayout.AvailableRingBytes(8)).ToArray(), b => Assert.Equal(0, b));
        Assert.All(guarded.Memory.GetSpan(layout.UsedRing, SplitQueueLayout.UsedRingBytes(8)).ToArray(), b => Assert.Equal(0, b));
    }

    private static SplitPair NewPair(VirtqueueFeatures features = VirtqueueFeatures.None)
    {
        var pair = new SplitPair(8, features);
        pair.AddAndPublish(1, BufferSegment.Readable(SplitPair.Data(0), 4), BufferSegment.Writable(SplitPair.Data(1), 8));   // head 0 (descs 0, 1)
        Assert.True(pair.Driver.TryAddChain(new[] { BufferSegment.Writable(SplitPair.Data(2), 8) }, 2));                   // head 2
        pair.Driver.PublishAvailable();
        return pair;
    }

    private static void AssertBroken(SplitPair pair, VirtqueueFault expected)
    {
        int outstanding = pair.Driver.Outstanding;
        Assert.Equal(PopStatus.Broken, pair.Driver.TryReclaimUsed(out UsedBuffer used));
        Assert.Equal(default, used);
        Assert.Equal(expected, pair.Driver.Fault);
        Assert.True(pair.Driver.IsBroken);
        Assert.Equal(outstanding, pair.Driver.Outstanding);   // nothing reclaimed by the bad element
        Assert.Equal(PopStatus.Broken, pair.Driver.TryReclaimUsed(out _));
        Assert.Throws<InvalidOperationException>(() => pair.Driver.TryAddChain(new[] { BufferSegment.Writable(SplitPair.Data(3), 8) }, 9));
        Assert.False(pair.Driver.ShouldNotifyDevice());
        Assert.True(pair.Guarded.GuardsIntact());
    }

    [Fact]
    public void TryReclaimUsed_BufferOutstandingWhileAvailIndexLaps_IsReclaimedWhenUsed()
    {
        // Out of order, one buffer stays with the device while 65,536 others pass: the 16-bit avail
        // index comes back to where it was added, and one more chain sits added but unpublished.
        // Deciding "published" by avail position would refuse the old buffer; the epoch does not.
        using var pair = new SplitPair(4, VirtqueueFeatures.None);
        pair.AddAndPublish(1000, BufferSegment.Writable(SplitPair.Data(0), 8));
        DescriptorChain held = pair.Pop();
        for (int i = 0; i < 65535; i++)
        {
            pair.AddAndPublish((ulong)i, BufferSegment.Writable(SplitPair.Data(1), 8));
            pair.Device.PushUsed(pair.Pop(), 0);
            pair.Device.PublishUsed();
            Assert.Equal((ulong)i, pair.Reclaim().Token);
        }

        Assert.True(pair.Driver.TryAddChain(new[] { BufferSegment.Writable(SplitPair.Data(2), 8) }, 2000));   // added, not published
        pair.Device.PushUsed(held, 4);
        pair.Device.PublishUsed();
        UsedBuffer back = pair.Reclaim();
        Assert.Equal(1000UL, back.Token);
        Assert.Equal(4u, back.WrittenLength);
        Assert.False(pair.Driver.IsBroken);
    }
}
