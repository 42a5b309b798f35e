using System;
using VirtioRing.Memory;
using VirtioRing.Queues.Packed;
using Xunit;

namespace VirtioRing.Tests.Queues.Packed;

public class PackedQueueLayoutTests
{
    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(5, true)]
    [InlineData(256, true)]
    [InlineData(32768, true)]
    [InlineData(32769, false)]
    [InlineData(-1, false)]
    public void IsValidSize_AnyValueUpTo2Pow15_IsValid(int size, bool expected) =>
        Assert.Equal(expected, PackedQueueLayout.IsValidSize(size));

    [Fact]
    public void Contiguous_Size5_PlacesEventStructuresAfterRing()
    {
        PackedQueueLayout l = PackedQueueLayout.Contiguous(5, new GuestAddress(0x1000));
        Assert.Equal(5, l.Size);
        Assert.Equal(0x1000UL, l.DescriptorRing.Value);
        Assert.Equal(0x1000UL + 80, l.DriverEventSuppression.Value);
        Assert.Equal(0x1000UL + 84, l.DeviceEventSuppression.Value);
        Assert.Equal(80UL, PackedQueueLayout.DescriptorRingBytes(5));
        Assert.Equal(88UL, PackedQueueLayout.ContiguousBytes(5));
        Assert.Equal(4, PackedQueueLayout.EventSuppressionBytes);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(32769)]
    public void Constructor_SizeOutOfRange_Throws(int size) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new PackedQueueLayout(size, new GuestAddress(0x1000), new GuestAddress(0x2000), new GuestAddress(0x3000)));

    [Theory]
    [InlineData(0x1008UL, 0x2000UL, 0x3000UL)]
    [InlineData(0x1000UL, 0x2002UL, 0x3000UL)]
    [InlineData(0x1000UL, 0x2000UL, 0x3001UL)]
    public void Constructor_Misaligned_Throws(ulong ring, ulong driver, ulong device) =>
        Assert.Throws<ArgumentException>(() => new PackedQueueLayout(4, new GuestAddress(ring), new GuestAddress(driver), new GuestAddress(device)));

    [Fact]
    public void Contiguous_WrapsAddressSpace_Throws() =>
        Assert.Throws<ArgumentException>(() => PackedQueueLayout.Contiguous(4, new GuestAddress(ulong.MaxValue - 15)));
}
