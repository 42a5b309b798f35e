using System;
using VirtioRing.Linux;
using VirtioRing.Memory;
using VirtioRing.VhostUser.Backend;
using VirtioRing.VhostUser.Protocol;
using Xunit;

namespace VirtioRing.VhostUser.Tests;

/// <summary>The memory table's counting of identical regions (QEMU adds each region once per queue pair).</summary>
[Collection(Infrastructure.SerialCollection.Name)]
public sealed class MemoryTableTests
{
    [Fact]
    public void WithRegion_IdenticalRegion_SameTableCountedInPlaceUntilRemovedAsOften()
    {
        using var memory = MemfdGuestRegion.Create(new GuestAddress(0x10_0000), 0x10000, "table");
        using var extra = MemfdGuestRegion.Create(new GuestAddress(0x40_0000), 0x10000, "extra");
        var region = new VhostUserMemoryRegion(0x10_0000, 0x10000, 0x7000_0000_0000, 0);
        var other = new VhostUserMemoryRegion(0x40_0000, 0x10000, 0x7100_0000_0000, 0);
        VhostUserMemoryTable table = VhostUserMemoryTable.WithRegion(null, region, memory.Handle, 8, requireSealed: false);
        try
        {
            // The second and third queue pair add it again: no new table (no device stop, no retired table).
            Assert.Same(table, VhostUserMemoryTable.WithRegion(table, region, memory.Handle, 8, requireSealed: false));
            Assert.Same(table, VhostUserMemoryTable.WithRegion(table, region, memory.Handle, 8, requireSealed: false));
            Assert.Equal(1, table.Count);

            // A different region makes a new table sharing the first mapping.
            using VhostUserMemoryTable two = VhostUserMemoryTable.WithRegion(table, other, extra.Handle, 8, requireSealed: false);
            Assert.NotSame(table, two);
            Assert.Equal(2, two.Count);

            // Removed three times: the first two keep it, the third drops it (the last region: no table).
            Assert.Same(table, VhostUserMemoryTable.WithoutRegion(table, region));
            Assert.Same(table, VhostUserMemoryTable.WithoutRegion(table, region));
            Assert.True(table.TryTranslateUser(0x7000_0000_0000, 0x10000, out ulong guest));
            Assert.Equal(0x10_0000UL, guest);
            Assert.Null(VhostUserMemoryTable.WithoutRegion(table, region));
            VhostUserProtocolException e = Assert.Throws<VhostUserProtocolException>(() => VhostUserMemoryTable.WithoutRegion(null, region));
            Assert.Equal(VhostUserProtocolError.BadMemoryRegion, e.Error);
        }
        finally
        {
            table.Dispose();
            DeferredRelease.Drain();
        }
    }
}
