using System;
using VirtioRing.Queues;
using Xunit;

namespace VirtioRing.Tests.Queues.Split;

public class SplitNotificationTests
{
    [Fact]
    public void ShouldNotifyDevice_EventIndex_MatchesNeedsEventAcrossWrap()
    {
        using var pair = new SplitPair(256, VirtqueueFeatures.EventIndex);
        var random = new Random(1234);
        ushort old = 0;
        ushort published = 0;
        int kicks = 0;
        long total = 0;
        for (int step = 0; step < 1200; step++)
        {
            int batch = random.Next(0, 257);
            for (int i = 0; i < batch; i++)
            {
                Assert.True(pair.Driver.TryAddChain(new[] { BufferSegment.Writable(SplitPair.Data(0), 8) }, (ulong)i));
            }

            pair.Driver.PublishAvailable();
            published = unchecked((ushort)(published + batch));
            total += batch;

            // The device asks for a kick somewhere around the new chains (before, inside, after).
            ushort availEvent = unchecked((ushort)(old + random.Next(-4, batch + 4)));
            pair.Raw.AvailEvent = availEvent;
            bool expected = EventIndex.NeedsEvent(availEvent, published, old);
            Assert.Equal(expected, pair.Driver.ShouldNotifyDevice());
            kicks += expected ? 1 : 0;
            old = published;

            Drain(pair);
        }

        Assert.True(total > 65536, "the index wrapped");
        Assert.InRange(kicks, 100, 1199);
    }

    [Fact]
    public void ShouldNotifyDriver_EventIndex_MatchesNeedsEventAcrossWrap()
    {
        using var pair = new SplitPair(256, VirtqueueFeatures.EventIndex);
        var random = new Random(4321);
        ushort old = 0;
        ushort published = 0;
        for (int step = 0; step < 1200; step++)
        {
            int batch = random.Next(0, 257);
            for (int i = 0; i < batch; i++)
            {
                Assert.True(pair.Driver.TryAddChain(new[] { BufferSegment.Writable(SplitPair.Data(0), 8) }, (ulong)i));
            }

            pair.Driver.PublishAvailable();
            while (pair.Device.TryPopAvailable(out DescriptorChain chain) == PopStatus.Popped)
            {
                pair.Device.PushUsed(chain, 0);
            }

            Assert.Equal(batch, pair.Device.PublishUsed());
            published = unchecked((ushort)(published + batch));
            ushort usedEvent = unchecked((ushort)(old + random.Next(-4, batch + 4)));
            pair.Raw.UsedEvent = usedEvent;
            Assert.Equal(EventIndex.NeedsEvent(usedEvent, published, old), pair.Device.ShouldNotifyDriver());
            old = published;
            while (pair.Driver.TryReclaimUsed(out _) == PopStatus.Popped)
            {
            }
        }
    }

    [Fact]
    public void ShouldNotifyDevice_Flags_FollowsUsedNoNotify()
    {
        using var pair = new SplitPair(8, VirtqueueFeatures.None);
        pair.Device.DisableNotifications();
        Assert.Equal(1, pair.Raw.UsedFlags);
        pair.AddAndPublish(1, BufferSegment.Writable(SplitPair.Data(0), 8));
        Assert.False(pair.Driver.ShouldNotifyDevice());

        Assert.True(pair.Device.EnableNotifications());   // the chain above is pending: pop instead of sleeping
        Assert.Equal(0, pair.Raw.UsedFlags);
        pair.AddAndPublish(2, BufferSegment.Writable(SplitPair.Data(1), 8));
        Assert.True(pair.Driver.ShouldNotifyDevice());
        Assert.False(pair.Driver.ShouldNotifyDevice());   // nothing new since the last decision
    }

    [Fact]
    public void ShouldNotifyDriver_Flags_FollowsAvailNoInterrupt()
    {
        using var pair = new SplitPair(8, VirtqueueFeatures.None);
        pair.Driver.DisableUsedNotifications();
        Assert.Equal(1, pair.Raw.AvailFlags);
        pair.AddAndPublish(1, BufferSegment.Writable(SplitPair.Data(0), 8));
        pair.AddAndPublish(2, BufferSegment.Writable(SplitPair.Data(1), 8));
        pair.Device.PushUsed(pair.Pop(), 0);
        pair.Device.PublishUsed();
        Assert.False(pair.Device.ShouldNotifyDriver());

        Assert.True(pair.Driver.EnableUsedNotifications());   // a used buffer is pending
        Assert.Equal(0, pair.Raw.AvailFlags);
        pair.Device.PushUsed(pair.Pop(), 0);
        pair.Device.PublishUsed();
        Assert.True(pair.Device.ShouldNotifyDriver());
        Assert.False(pair.Device.ShouldNotifyDriver());   // nothing new since the last decision
    }

    [Theory]
    [InlineData(VirtqueueFeatures.None)]
    [InlineData(VirtqueueFeatures.EventIndex)]
    public void EnableNotifications_EmptyRingThenDriverAdds_DriverKicks(VirtqueueFeatures features)
    {
        using var pair = new SplitPair(8, features);
        for (int round = 0; round < 20; round++)
        {
            pair.Device.DisableNotifications();
            while (pair.Device.TryPopAvailable(out DescriptorChain chain) == PopStatus.Popped)
            {
                pair.Device.PushUsed(chain, 0);
            }

            pair.Device.PublishUsed();
            while (pair.Driver.TryReclaimUsed(out _) == PopStatus.Popped)
            {
            }

            // The device goes to sleep: nothing pending, so Enable says "sleep".
            Assert.False(pair.Device.EnableNotifications());

            // No lost wake-up: whatever the driver adds now is kicked.
            pair.AddAndPublish((ulong)round, BufferSegment.Writable(SplitPair.Data(0), 8));
            Assert.True(pair.Driver.ShouldNotifyDevice());
            if (round % 2 == 1)
            {
                pair.AddAndPublish((ulong)round, BufferSegment.Writable(SplitPair.Data(0), 8));
                Assert.Equal(features == VirtqueueFeatures.None, pair.Driver.ShouldNotifyDevice());
            }
        }
    }

    [Theory]
    [InlineData(VirtqueueFeatures.None)]
    [InlineData(VirtqueueFeatures.EventIndex)]
    public void EnableNotifications_ChainAddedWhileDisabled_ReturnsTrue(VirtqueueFeatures features)
    {
        using var pair = new SplitPair(8, features);
        pair.AddAndPublish(1, BufferSegment.Writable(SplitPair.Data(0), 8));
        pair.Device.PushUsed(pair.Pop(), 0);
        pair.Device.DisableNotifications();
        ushort availEvent = pair.Raw.AvailEvent;

        pair.AddAndPublish(2, BufferSegment.Writable(SplitPair.Data(0), 8));
        pair.Driver.ShouldNotifyDevice();
        pair.AddAndPublish(3, BufferSegment.Writable(SplitPair.Data(0), 8));
        Assert.False(pair.Driver.ShouldNotifyDevice());   // suppressed (event index: already passed)
        pair.Pop();
        Assert.Equal(availEvent, pair.Raw.AvailEvent);      // popping while disabled does not move it

        Assert.True(pair.Device.EnableNotifications());    // one chain left: the caller must pop, not sleep
        if (features == VirtqueueFeatures.EventIndex)
        {
            Assert.Equal((ushort)2, pair.Raw.AvailEvent);
        }
    }

    [Theory]
    [InlineData(VirtqueueFeatures.None)]
    [InlineData(VirtqueueFeatures.EventIndex)]
    public void EnableUsedNotifications_EmptyThenDevicePublishes_DeviceNotifies(VirtqueueFeatures features)
    {
        using var pair = new SplitPair(8, features);
        for (int round = 0; round < 20; round++)
        {
            pair.Driver.DisableUsedNotifications();
            pair.AddAndPublish((ulong)round, BufferSegment.Writable(SplitPair.Data(0), 8));
            pair.AddAndPublish((ulong)round, BufferSegment.Writable(SplitPair.Data(1), 8));
            DescriptorChain first = pair.Pop();
            DescriptorChain second = pair.Pop();
            Assert.False(pair.Driver.EnableUsedNotifications());

            pair.Device.PushUsed(first, 0);
            pair.Device.PublishUsed();
            Assert.True(pair.Device.ShouldNotifyDriver());

            pair.Driver.DisableUsedNotifications();
            Assert.True(pair.Driver.EnableUsedNotifications());   // the first is pending: reclaim, do not sleep
            pair.Reclaim();
            Assert.False(pair.Driver.EnableUsedNotifications());
            pair.Device.PushUsed(second, 0);
            pair.Device.PublishUsed();
            Assert.True(pair.Device.ShouldNotifyDriver());
            pair.Reclaim();
        }
    }

    [Fact]
    public void DisableUsedNotifications_EventIndex_ReclaimStopsMovingUsedEvent()
    {
        using var pair = new SplitPair(8, VirtqueueFeatures.EventIndex);
        pair.AddAndPublish(1, BufferSegment.Writable(SplitPair.Data(0), 8));
        pair.AddAndPublish(2, BufferSegment.Writable(SplitPair.Data(0), 8));
        pair.Device.PushUsed(pair.Pop(), 0);
        pair.Device.PushUsed(pair.Pop(), 0);
        pair.Device.PublishUsed();
        pair.Reclaim();
        Assert.Equal((ushort)1, pair.Raw.UsedEvent);   // enabled: ask for the next one
        pair.Driver.DisableUsedNotifications();
        pair.Reclaim();
        Assert.Equal((ushort)1, pair.Raw.UsedEvent);
        Assert.Equal(0, pair.Raw.AvailFlags);          // EVENT_IDX: flags stay 0 (§2.7.7.1)
    }

    private static void Drain(SplitPair pair)
    {
        while (pair.Device.TryPopAvailable(out DescriptorChain chain) == PopStatus.Popped)
        {
            pair.Device.PushUsed(chain, 0);
        }

        pair.Device.PublishUsed();
        while (pair.Driver.TryReclaimUsed(out _) == PopStatus.Popped)
        {
        }
    }
}
