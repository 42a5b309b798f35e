using System;
using System.Collections.Generic;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using Xunit;

namespace VirtioRing.Tests.Queues.Packed;

public class PackedStateTests
{
    [Fact]
    public void SaveState_AfterLaps_ReportsPositionsAndWrapCounters()
    {
        using var rig = new PackedRig(5, VirtqueueFeatures.None);
        Assert.Equal(new QueueState(0, 0, true, true), rig.Device.SaveState());
        for (int i = 0; i < 7; i++)
        {
            rig.Add((ulong)i, 0, 0, 1);
            rig.Driver.PublishAvailable();
            rig.Device.PushUsed(rig.Pop(), 0);
            rig.Device.PublishUsed();
            rig.ReclaimAll();
        }

        Assert.Equal(new QueueState(2, 2, false, false), rig.Device.SaveState());
    }

    [Fact]
    public void RestoreState_IntoNewDeviceQueue_ContinuesWhereTheOldOneStopped()
    {
        using var rig = new PackedRig(5, VirtqueueFeatures.None);
        for (int i = 0; i < 8; i++)
        {
            rig.Add((ulong)i, 0, 0, 1);
            rig.Driver.PublishAvailable();
            rig.Device.PushUsed(rig.Pop(), 0);
            rig.Device.PublishUsed();
            rig.ReclaimAll();
        }

        QueueState saved = rig.Device.SaveState();
        Assert.Equal(saved, QueueState.DecodeAvailBase(saved.EncodeAvailBase(packed: true), packed: true));

        var fresh = new PackedDeviceQueue(rig.Memory, rig.Layout, VirtqueueFeatures.None);
        fresh.RestoreState(saved);
        Assert.Equal(saved, fresh.SaveState());
        for (int i = 0; i < 12; i++)
        {
            rig.Add((ulong)(100 + i), 0, 1, 1);
            rig.Driver.PublishAvailable();
            Assert.Equal(PopStatus.Popped, fresh.TryPopAvailable(out DescriptorChain c));
            fresh.PushUsed(c, 3);
            fresh.PublishUsed();
            List<UsedBuffer> got = rig.ReclaimAll();
            Assert.Single(got);
            Assert.Equal((ulong)(100 + i), got[0].Token);
            Assert.Equal(3u, got[0].WrittenLength);
        }

        Assert.True(rig.Guarded.GuardsIntact());
    }

    [Fact]
    public void RestoreState_ForgetsHeldChains()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        rig.Add(1, 0, 0, 1);
        rig.Driver.PublishAvailable();
        DescriptorChain held = rig.Pop();
        rig.Device.RestoreState(new QueueState(1, 0));
        Assert.False(held.IsHeld);
        Assert.Equal(0, rig.Device.InFlight);
        Assert.Throws<InvalidOperationException>(() => rig.Device.PushUsed(held, 0));
    }

    [Theory]
    [InlineData(4, 0, true, true)]    // avail out of range
    [InlineData(0, 4, true, true)]    // used out of range
    public void RestoreState_PositionOutOfRange_Throws(ushort avail, ushort used, bool availWrap, bool usedWrap)
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Device.RestoreState(new QueueState(avail, used, availWrap, usedWrap)));
    }

    [Fact]
    public void RestoreState_UsedAheadOfAvail_Throws()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        Assert.Throws<ArgumentException>(() => rig.Device.RestoreState(new QueueState(1, 2, true, true)));
        Assert.Throws<ArgumentException>(() => rig.Device.RestoreState(new QueueState(2, 1, true, false)));
    }

    [Fact]
    public void Reset_AfterFault_ClearsFaultAndPositions()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None, withDriver: false);
        rig.WriteAvailable(0, 0x5000_0000, 16, DescriptorFlags.None, 0);
        Assert.Equal(PopStatus.Broken, rig.Device.TryPopAvailable(out _));
        rig.Device.Reset();
        Assert.False(rig.Device.IsBroken);
        Assert.Equal(VirtqueueFault.None, rig.Device.Fault);
        Assert.Equal(new QueueState(0, 0, true, true), rig.Device.SaveState());

        rig.WriteAvailable(0, PackedRig.BufferBase, 16, DescriptorFlags.DeviceWritable, 2);
        Assert.Equal(PopStatus.Popped, rig.Device.TryPopAvailable(out DescriptorChain c));
        Assert.Equal(2, c.Id);
    }

    [Fact]
    public void Reset_WithHeldChain_ChainGoesStale()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.InOrder);
        rig.Add(1, 0, 0, 1);
        rig.Driver.PublishAvailable();
        DescriptorChain held = rig.Pop();
        rig.Device.Reset();
        Assert.False(held.IsHeld);
        Assert.Equal(0, rig.Device.InFlight);
        Assert.Throws<InvalidOperationException>(() => rig.Device.PushUsed(held, 0));
    }
}
