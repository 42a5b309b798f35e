using VirtioRing.TestKit;
using System;
using VirtioRing.Queues;
using Xunit;

namespace VirtioRing.Tests.Queues.Packed;

public class PackedAllocationTests
{
    [Theory]
    [InlineData(VirtqueueFeatures.None, 0)]
    [InlineData(VirtqueueFeatures.EventIndex | VirtqueueFeatures.InOrder, 0)]
    [InlineData(VirtqueueFeatures.IndirectDescriptors, 4)]
    public void RoundTrip_SteadyState_AllocatesNothing(VirtqueueFeatures features, int maxIndirect)
    {
        using var rig = new PackedRig(64, features, maxIndirect);
        var segs = new[] { BufferSegment.Readable(PackedRig.Buffer(0), 16), BufferSegment.Writable(PackedRig.Buffer(1), 16) };
        var held = new DescriptorChain[32];
        void Batch()
        {
            for (int i = 0; i < 16; i++)
            {
                rig.Driver.TryAddChain(segs, (ulong)i);
            }

            rig.Driver.PublishAvailable();
            rig.Driver.ShouldNotifyDevice();
            int n = 0;
            while (rig.Device.TryPopAvailable(out held[n]) == PopStatus.Popped)
            {
                n++;
            }

            for (int i = 0; i < n; i++)
            {
                rig.Device.PushUsed(held[i], 4);
            }

            rig.Device.PublishUsed();
            rig.Device.ShouldNotifyDriver();
            while (rig.Driver.TryReclaimUsed(out _) == PopStatus.Popped)
            {
            }

            rig.Driver.EnableUsedNotifications();
            rig.Device.EnableNotifications();
        }

        Assert.Equal(0, SteadyStateAllocation.Measure(Batch, 1000));
        Assert.Equal(0, rig.Driver.Outstanding);
    }
}
