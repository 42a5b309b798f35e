using System;
using System.Buffers.Binary;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using Xunit;

namespace VirtioRing.Tests.Queues.Packed;

public class PackedEventSuppressionTests
{
    private static void RoundTripOne(PackedRig rig, ulong token)
    {
        rig.Add(token, 0, 0, 1);
        rig.Driver.PublishAvailable();
        rig.Device.PushUsed(rig.Pop(), 1);
        rig.Device.PublishUsed();
    }

    private static (ushort Flags, ushort OffWrap) Read(Span<byte> area) =>
        (BinaryPrimitives.ReadUInt16LittleEndian(area.Slice(2)), BinaryPrimitives.ReadUInt16LittleEndian(area));

    [Fact]
    public void ShouldNotifyDriver_DriverEnabled_TrueOncePerPublish()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        Assert.False(rig.Device.ShouldNotifyDriver());   // nothing published
        RoundTripOne(rig, 1);
        Assert.True(rig.Device.ShouldNotifyDriver());
        Assert.False(rig.Device.ShouldNotifyDriver());   // already decided
    }

    [Fact]
    public void ShouldNotifyDriver_DriverDisabled_False()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        rig.Driver.DisableUsedNotifications();
        Assert.Equal((ushort)1, Read(rig.DriverEvent).Flags);
        RoundTripOne(rig, 1);
        Assert.False(rig.Device.ShouldNotifyDriver());
        rig.ReclaimAll();
        Assert.False(rig.Driver.EnableUsedNotifications());
        Assert.Equal((ushort)0, Read(rig.DriverEvent).Flags);
        RoundTripOne(rig, 2);
        Assert.True(rig.Device.ShouldNotifyDriver());
    }

    [Fact]
    public void ShouldNotifyDriver_DescMode_NotifiesOnlyWhenEventSlotIsUsed()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.EventIndex);
        Assert.False(rig.Driver.EnableUsedNotifications());
        Assert.Equal(((ushort)2, (ushort)0x8000), Read(rig.DriverEvent));   // DESC, slot 0, wrap 1
        RoundTripOne(rig, 1);
        Assert.True(rig.Device.ShouldNotifyDriver());   // slot 0 used
        RoundTripOne(rig, 2);
        Assert.False(rig.Device.ShouldNotifyDriver());  // slot 1 used; the driver asked for slot 0 only
        rig.ReclaimAll();
        rig.Driver.EnableUsedNotifications();           // now slot 2
        RoundTripOne(rig, 3);
        Assert.True(rig.Device.ShouldNotifyDriver());
    }

    [Fact]
    public void ShouldNotifyDriver_DescModeWithoutEventIdx_NotifiesAnyway()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        BinaryPrimitives.WriteUInt16LittleEndian(rig.DriverEvent.Slice(2), 2);
        BinaryPrimitives.WriteUInt16LittleEndian(rig.DriverEvent, 0x8003);
        RoundTripOne(rig, 1);
        Assert.True(rig.Device.ShouldNotifyDriver());
    }

    [Fact]
    public void ShouldNotifyDevice_DeviceDisabledThenEnabled_FollowsFlags()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        rig.Add(1, 0, 0, 1);
        rig.Driver.PublishAvailable();
        Assert.True(rig.Driver.ShouldNotifyDevice());
        Assert.False(rig.Driver.ShouldNotifyDevice());
        rig.Device.DisableNotifications();
        Assert.Equal((ushort)1, Read(rig.DeviceEvent).Flags);
        rig.Add(2, 1, 0, 1);
        rig.Driver.PublishAvailable();
        Assert.False(rig.Driver.ShouldNotifyDevice());
        Assert.True(rig.Device.EnableNotifications());   // re-check: buffers are already there
        Assert.Equal((ushort)0, Read(rig.DeviceEvent).Flags);
        rig.Pop();
        rig.Pop();
        Assert.False(rig.Device.EnableNotifications());
        rig.Add(3, 2, 0, 1);
        rig.Driver.PublishAvailable();
        Assert.True(rig.Driver.ShouldNotifyDevice());
    }

    [Fact]
    public void ShouldNotifyDevice_DescMode_KicksOnlyWhenEventSlotIsMadeAvailable()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.EventIndex);
        rig.Add(1, 0, 0, 1);
        rig.Driver.PublishAvailable();
        rig.Pop();
        Assert.False(rig.Device.EnableNotifications());
        Assert.Equal(((ushort)2, (ushort)(0x8000 | 1)), Read(rig.DeviceEvent));   // DESC at slot 1, wrap 1
        rig.Driver.ShouldNotifyDevice();   // forget slot 0
        rig.Add(2, 1, 0, 2);               // slots 1-2
        rig.Driver.PublishAvailable();
        Assert.True(rig.Driver.ShouldNotifyDevice());
        rig.Add(3, 3, 0, 1);               // slot 3: no request there
        rig.Driver.PublishAvailable();
        Assert.False(rig.Driver.ShouldNotifyDevice());
    }

    [Fact]
    public void EnableUsedNotifications_UsedPending_ReturnsTrue()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.EventIndex);
        rig.Driver.DisableUsedNotifications();
        RoundTripOne(rig, 1);
        Assert.True(rig.Driver.EnableUsedNotifications());
        rig.ReclaimAll();
        Assert.False(rig.Driver.EnableUsedNotifications());
    }

    /// <summary>
    /// The DESC comparison against a model that walks every slot published: notify iff the
    /// (offset, wrap) the other side asked for is one of them. All starts, lengths and events.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(8)]
    public unsafe void NeedsNotification_DescMode_MatchesSlotWalkModel(int size)
    {
        byte* area = stackalloc byte[4];
        for (int start = 0; start < size; start++)
        {
            foreach (bool startWrap in new[] { true, false })
            {
                for (int advanced = 0; advanced <= size; advanced++)
                {
                    ushort pos = (ushort)start;
                    bool wrap = startWrap;
                    var visited = new System.Collections.Generic.HashSet<(int, bool)>();
                    for (int k = 0; k < advanced; k++)
                    {
                        visited.Add((pos, wrap));
                        PackedRing.Advance(ref pos, ref wrap, 1, size);
                    }

                    for (int off = 0; off < size; off++)
                    {
                        foreach (bool eventWrap in new[] { true, false })
                        {
                            PackedRing.WriteEvent(area, PackedRing.EventFlagsDesc, PackedRing.OffWrap((ushort)off, eventWrap));
                            bool expected = visited.Contains((off, eventWrap));
                            bool actual = PackedRing.NeedsNotification(area, eventIndex: true, advanced, pos, wrap, size);
                            Assert.True(expected == actual, $"size={size} start={start}/{startWrap} advanced={advanced} event={off}/{eventWrap}");
                        }
                    }
                }
            }
        }
    }
}
