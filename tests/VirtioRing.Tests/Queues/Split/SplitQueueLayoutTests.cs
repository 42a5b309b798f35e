using System;
using VirtioRing.Memory;
using VirtioRing.Queues.Split;
using Xunit;

namespace VirtioRing.Tests.Queues.Split;

public class SplitQueueLayoutTests
{
    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(256, true)]
    [InlineData(32768, true)]
    [InlineData(0, false)]
    [InlineData(-1, false)]
    [InlineData(3, false)]
    [InlineData(255, false)]
    [InlineData(65536, false)]
    public void IsValidSize_Values_MatchPowerOfTwoUpTo32768(int size, bool expected) =>
        Assert.Equal(expected, SplitQueueLayout.IsValidSize(size));

    [Fact]
    public void AreaSizes_Size256_MatchSpecFormulas()
    {
        // virtio 1.2 §2.7: 16·n, 6 + 2·n (with used_event), 6 + 8·n (with avail_event).
        Assert.Equal(4096UL, SplitQueueLayout.DescriptorTableBytes(256));
        Assert.Equal(518UL, SplitQueueLayout.AvailableRingBytes(256));
        Assert.Equal(2054UL, SplitQueueLayout.UsedRingBytes(256));
    }

    [Fact]
    public void Contiguous_Size256Align4096_MatchesLegacyVringSize()
    {
        // Legacy vring_size(256, 4096) = align(16·256 + 2·(3 + 256), 4096) + 2·3 + 8·256 = 8192 + 2054.
        SplitQueueLayout layout = SplitQueueLayout.Contiguous(256, new GuestAddress(0x10000));
        Assert.Equal(new GuestAddress(0x10000), layout.DescriptorTable);
        Assert.Equal(new GuestAddress(0x11000), layout.AvailableRing);
        Assert.Equal(new GuestAddress(0x12000), layout.UsedRing);
        Assert.Equal(10246UL, SplitQueueLayout.ContiguousBytes(256));
    }

    [Fact]
    public void Contiguous_SmallAlignment_PacksUsedRing()
    {
        SplitQueueLayout layout = SplitQueueLayout.Contiguous(4, new GuestAddress(0x1000), usedAlignment: 4);
        Assert.Equal(new GuestAddress(0x1040), layout.AvailableRing);
        Assert.Equal(new GuestAddress(0x1050), layout.UsedRing);   // 64 + 14 = 78 → 80
        Assert.Equal(80UL + 38UL, SplitQueueLayout.ContiguousBytes(4, 4));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(65536)]
    public void Constructor_InvalidSize_ThrowsArgumentOutOfRange(int size) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new SplitQueueLayout(size, new GuestAddress(0), new GuestAddress(0x1000), new GuestAddress(0x2000)));

    [Theory]
    [InlineData(0x1008UL, 0x2000UL, 0x3000UL)]
    [InlineData(0x1000UL, 0x2001UL, 0x3000UL)]
    [InlineData(0x1000UL, 0x2000UL, 0x3002UL)]
    public void Constructor_Misaligned_ThrowsArgumentException(ulong desc, ulong avail, ulong used)
    {
        Assert.ThrowsAny<ArgumentException>(() => new SplitQueueLayout(8, new GuestAddress(desc), new GuestAddress(avail), new GuestAddress(used)));
        Assert.False(SplitQueueLayout.TryCreate(8, new GuestAddress(desc), new GuestAddress(avail), new GuestAddress(used), out _));
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(2UL)]
    [InlineData(4095UL)]
    public void Contiguous_BadAlignment_ThrowsArgumentOutOfRange(ulong alignment) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => SplitQueueLayout.Contiguous(8, new GuestAddress(0), alignment));

    [Fact]
    public void Contiguous_PastTopOfAddressSpace_ThrowsArgumentOutOfRange() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => SplitQueueLayout.Contiguous(256, new GuestAddress(ulong.MaxValue - 0xfff)));

    [Fact]
    public void TryCreate_Valid_EqualsConstructed()
    {
        Assert.True(SplitQueueLayout.TryCreate(8, new GuestAddress(0x1000), new GuestAddress(0x2000), new GuestAddress(0x3000), out SplitQueueLayout layout));
        Assert.Equal(new SplitQueueLayout(8, new GuestAddress(0x1000), new GuestAddress(0x2000), new GuestAddress(0x3000)), layout);
    }
}
