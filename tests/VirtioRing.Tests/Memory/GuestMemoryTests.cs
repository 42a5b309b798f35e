using System;
using VirtioRing.Memory;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Memory;

public class GuestMemoryTests
{
    [Fact]
    public void TryGetSpan_InsideRegion_ReturnsHostBytes()
    {
        using var g = new GuardedGuestMemory((0x1000, 0x1000));
        g.Memory.Write(new GuestAddress(0x1800), new byte[] { 1, 2, 3 });
        Assert.Equal(GuestMemoryStatus.Ok, g.Memory.TryGetSpan(new GuestAddress(0x1800), 3, out Span<byte> span));
        Assert.Equal(new byte[] { 1, 2, 3 }, span.ToArray());
        Assert.True(g.GuardsIntact());
    }

    [Theory]
    [InlineData(0x0fffUL, 1UL, GuestMemoryStatus.Unmapped)]
    [InlineData(0x2000UL, 1UL, GuestMemoryStatus.Unmapped)]
    [InlineData(0x1fffUL, 2UL, GuestMemoryStatus.CrossesRegionEnd)]
    [InlineData(0x1000UL, 0x1001UL, GuestMemoryStatus.CrossesRegionEnd)]
    [InlineData(0x1800UL, ulong.MaxValue, GuestMemoryStatus.AddressOverflow)]
    [InlineData(ulong.MaxValue, 2UL, GuestMemoryStatus.AddressOverflow)]
    public void TryGetSpan_OutsideRegion_ReturnsTypedStatus(ulong address, ulong length, GuestMemoryStatus expected)
    {
        using var g = new GuardedGuestMemory((0x1000, 0x1000));
        Assert.Equal(expected, g.Memory.TryGetSpan(new GuestAddress(address), length, out Span<byte> span));
        Assert.True(span.IsEmpty);
    }

    [Fact]
    public void TryGetSpan_RangeStraddlesAdjacentRegions_IsRejected()
    {
        using var g = new GuardedGuestMemory((0x1000, 0x1000), (0x2000, 0x1000));
        Assert.Equal(GuestMemoryStatus.Ok, g.Memory.TryGetSpan(new GuestAddress(0x1ff0), 0x10, out _));
        Assert.Equal(GuestMemoryStatus.Ok, g.Memory.TryGetSpan(new GuestAddress(0x2000), 0x10, out _));
        Assert.Equal(GuestMemoryStatus.CrossesRegionEnd, g.Memory.TryGetSpan(new GuestAddress(0x1ff0), 0x20, out _));
    }

    [Fact]
    public void TryGetSpan_ManyRegions_FindsEachAndMissesGaps()
    {
        var regions = new (ulong, ulong)[16];
        for (int i = 0; i < regions.Length; i++)
        {
            regions[i] = ((ulong)i * 0x10000, 0x1000);
        }

        using var g = new GuardedGuestMemory(regions);
        for (int i = regions.Length - 1; i >= 0; i--)
        {
            Assert.Equal(GuestMemoryStatus.Ok, g.Memory.TryGetSpan(new GuestAddress((ulong)i * 0x10000 + 0xff0), 0x10, out _));
            Assert.Equal(GuestMemoryStatus.Unmapped, g.Memory.TryGetSpan(new GuestAddress((ulong)i * 0x10000 + 0x1000), 1, out _));
        }
    }

    [Fact]
    public void Constructor_OverlappingRegions_Throws()
    {
        using var a = GuestRegion.Allocate(new GuestAddress(0x1000), 0x1000);
        using var b = GuestRegion.Allocate(new GuestAddress(0x1fff), 0x1000);
        Assert.Throws<ArgumentException>(() => new GuestMemory(new[] { a, b }, ownsRegions: false));
    }

    [Fact]
    public void GetSpan_Unmapped_ThrowsGuestMemoryException()
    {
        using var m = GuestMemory.Allocate(new GuestAddress(0), 0x1000);
        GuestMemoryException e = Assert.Throws<GuestMemoryException>(() => m.GetSpan(new GuestAddress(0x1000), 1));
        Assert.Equal(GuestMemoryStatus.Unmapped, e.Status);
    }

    [Fact]
    public void RegionAtTopOfAddressSpace_EndsAt2Pow64_TranslatesItsLastByte()
    {
        using var m = GuestMemory.Allocate(new GuestAddress(ulong.MaxValue - 0xfff), 0x1000);
        Assert.Equal(GuestMemoryStatus.Ok, m.TryGetSpan(new GuestAddress(ulong.MaxValue), 1, out _));
        Assert.Equal(GuestMemoryStatus.AddressOverflow, m.TryGetSpan(new GuestAddress(ulong.MaxValue), 2, out _));
    }

    [Fact]
    public void WithRegionAndWithoutRegion_ReturnNewTables()
    {
        using var m = GuestMemory.Allocate(new GuestAddress(0), 0x1000);
        using var extra = GuestRegion.Allocate(new GuestAddress(0x10000), 0x1000);
        GuestMemory bigger = m.WithRegion(extra);
        Assert.Equal(GuestMemoryStatus.Ok, bigger.TryGetSpan(new GuestAddress(0x10000), 1, out _));
        Assert.Equal(GuestMemoryStatus.Unmapped, m.TryGetSpan(new GuestAddress(0x10000), 1, out _));
        GuestMemory smaller = bigger.WithoutRegion(new GuestAddress(0x10000));
        Assert.Equal(1, smaller.RegionCount);
    }
}
