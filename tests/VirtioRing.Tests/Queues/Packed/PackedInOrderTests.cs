using System;
using System.Collections.Generic;
using VirtioRing.Queues;
using Xunit;

namespace VirtioRing.Tests.Queues.Packed;

public class PackedInOrderTests
{
    [Fact]
    public void PublishUsed_ZeroLengthRunThenChain_WritesOneUsedDescriptorWithLastId()
    {
        using var rig = new PackedRig(8, VirtqueueFeatures.InOrder);
        rig.Add(100, 0, 1, 0);   // slot 0
        rig.Add(101, 1, 2, 0);   // slots 1-2
        rig.Add(102, 3, 0, 1);   // slot 3
        rig.Driver.PublishAvailable();
        DescriptorChain a = rig.Pop(), b = rig.Pop(), c = rig.Pop();
        byte[] before = rig.SnapshotRingArea();

        rig.Device.PushUsed(a, 0);
        rig.Device.PushUsed(b, 0);
        rig.Device.PushUsed(c, 9);
        Assert.Equal(3, rig.Device.PublishUsed());

        // One used descriptor, at the first chain's slot, with the last chain's id; the other slots untouched.
        Descriptor used = rig.ReadSlot(0);
        Assert.Equal(c.Id, used.NextOrId);
        Assert.Equal(9u, used.Length);
        Assert.Equal(DescriptorFlags.Available | DescriptorFlags.Used | DescriptorFlags.DeviceWritable, used.Flags);
        byte[] after = rig.SnapshotRingArea();
        Assert.Equal(before.AsSpan(16).ToArray(), after.AsSpan(16).ToArray());
        Assert.Equal(new ulong[] { 4, 0, 4, 1 }, new ulong[] { (ulong)rig.Device.SaveState().NextUsed, rig.Device.SaveState().UsedWrapCounter ? 0UL : 1UL, rig.Device.SaveState().NextAvail, 1 });

        List<UsedBuffer> got = rig.ReclaimAll();
        Assert.Equal(new ulong[] { 100, 101, 102 }, got.ConvertAll(x => x.Token));
        Assert.Equal(new uint[] { 0, 0, 9 }, got.ConvertAll(x => x.WrittenLength));
        Assert.Equal(8, rig.Driver.FreeDescriptors);
        Assert.True(rig.Guarded.GuardsIntact());
    }

    [Fact]
    public void PublishUsed_TrailingZeroLengthRun_IsFlushedWithLastId()
    {
        using var rig = new PackedRig(8, VirtqueueFeatures.InOrder);
        rig.Add(1, 0, 1, 0);
        rig.Add(2, 1, 1, 0);
        rig.Driver.PublishAvailable();
        DescriptorChain a = rig.Pop(), b = rig.Pop();
        rig.Device.PushUsed(a, 0);
        rig.Device.PushUsed(b, 0);
        Assert.Equal(PopStatus.Empty, rig.Driver.TryReclaimUsed(out _));   // nothing visible before publish
        Assert.Equal(2, rig.Device.PublishUsed());
        Assert.Equal(b.Id, rig.ReadSlot(0).NextOrId);
        List<UsedBuffer> got = rig.ReclaimAll();
        Assert.Equal(new ulong[] { 1, 2 }, got.ConvertAll(x => x.Token));
    }

    [Fact]
    public void PushUsed_NonZeroLengths_OneUsedDescriptorEach()
    {
        using var rig = new PackedRig(8, VirtqueueFeatures.InOrder);
        rig.Add(1, 0, 0, 2);   // slots 0-1
        rig.Add(2, 2, 0, 1);   // slot 2
        rig.Driver.PublishAvailable();
        DescriptorChain a = rig.Pop(), b = rig.Pop();
        rig.Device.PushUsed(a, 5);
        rig.Device.PushUsed(b, 6);
        rig.Device.PublishUsed();
        Assert.Equal(a.Id, rig.ReadSlot(0).NextOrId);
        Assert.Equal(b.Id, rig.ReadSlot(2).NextOrId);
        List<UsedBuffer> got = rig.ReclaimAll();
        Assert.Equal(new uint[] { 5, 6 }, got.ConvertAll(x => x.WrittenLength));
    }

    [Fact]
    public void PushUsed_InOrderOutOfPopOrder_Throws()
    {
        using var rig = new PackedRig(8, VirtqueueFeatures.InOrder);
        rig.Add(1, 0, 1, 0);
        rig.Add(2, 1, 1, 0);
        rig.Driver.PublishAvailable();
        DescriptorChain a = rig.Pop(), b = rig.Pop();
        Assert.Throws<InvalidOperationException>(() => rig.Device.PushUsed(b, 0));
        Assert.True(b.IsHeld);
        rig.Device.PushUsed(a, 0);
        rig.Device.PushUsed(b, 0);
    }

    [Fact]
    public void TryReclaimUsed_InOrderDeviceSkipsToLaterId_CompletesEarlierOnesWithZeroLength()
    {
        // A device (raw writes) that marks only the third buffer used: the first two are implied.
        using var rig = new PackedRig(8, VirtqueueFeatures.InOrder, withDevice: false);
        rig.Add(1, 0, 0, 1);
        rig.Add(2, 1, 0, 1);
        rig.Add(3, 2, 0, 1);
        rig.Add(4, 3, 0, 1);
        rig.Driver.PublishAvailable();
        ushort thirdId = rig.ReadSlot(2).NextOrId;
        rig.WriteUsed(0, thirdId, 7, written: true);
        Assert.True(rig.Driver.EnableUsedNotifications());
        List<UsedBuffer> got = rig.ReclaimAll();
        Assert.Equal(new ulong[] { 1, 2, 3 }, got.ConvertAll(x => x.Token));
        Assert.Equal(new uint[] { 0, 0, 7 }, got.ConvertAll(x => x.WrittenLength));
        Assert.Equal(1, rig.Driver.Outstanding);
        Assert.Equal(7, rig.Driver.FreeDescriptors);
    }
}
