using System;
using System.Runtime.InteropServices;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;
using Xunit;

namespace VirtioRing.Tests.Queues;

/// <summary>
/// A VMM may hand in host memory at any address. Ring fields are accessed atomically, so a region
/// whose host pointer breaks the ring's alignment must leave a device queue broken, not torn.
/// </summary>
public unsafe class HostAlignmentTests
{
    [Fact]
    public void PackedDeviceQueue_HostPointerNotRingAligned_BrokenWithRingOutOfRange() =>
        AssertBroken(m => new PackedDeviceQueue(m, PackedQueueLayout.Contiguous(8, new GuestAddress(0)), VirtqueueFeatures.None));

    [Fact]
    public void SplitDeviceQueue_HostPointerNotRingAligned_BrokenWithRingOutOfRange() =>
        AssertBroken(m => new SplitDeviceQueue(m, SplitQueueLayout.Contiguous(8, new GuestAddress(0)), VirtqueueFeatures.None));

    private static void AssertBroken(Func<GuestMemory, IDeviceQueue> create)
    {
        byte* block = (byte*)NativeMemory.AlignedAlloc(0x10000 + 64, 64);
        try
        {
            new Span<byte>(block, 0x10000 + 64).Clear();
            // Guest address 0 (16-aligned) maps to a host address that is only 2-aligned.
            using var memory = new GuestMemory(new[] { GuestRegion.FromHost(new GuestAddress(0), (IntPtr)(block + 2), 0x10000) });
            IDeviceQueue queue = create(memory);
            Assert.True(queue.IsBroken);
            Assert.Equal(VirtqueueFault.RingOutOfRange, queue.Fault);
            Assert.Equal(PopStatus.Broken, queue.TryPopAvailable(out _));
        }
        finally
        {
            NativeMemory.AlignedFree(block);
        }
    }
}
