using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Properties;

/// <summary>Checks of the test kit itself: the model's notification rules and the generators.</summary>
public class QueueModelTests
{
    /// <summary>
    /// The model's absolute-position rule for packed DESC events agrees with the Linux formulation
    /// (virtqueue_kick_prepare_packed / vhost_vring_packed_need_event): positions within the ring,
    /// the event offset moved back a lap when its wrap counter is not the current one, then vring_need_event.
    /// </summary>
    [Property(MaxTest = 1000)]
    public Property PackedEventReached_RangeWithinOneRing_MatchesLinuxFormula() => Prop.ForAll(
        Arb.From(from size in Gen.Choose(1, 32768)
                 from lap in Gen.Choose(0, 1000)
                 from slot in Gen.Choose(0, size - 1)
                 from count in Gen.Choose(0, size)
                 from offset in Gen.Choose(0, size - 1)
                 from wrap in Gen.Elements(true, false)
                 select (size, lap, slot, count, offset, wrap)),
        t =>
        {
            long oldPosition = ((long)t.lap * t.size) + t.slot;
            long newPosition = oldPosition + t.count;
            int newIndex = (int)(newPosition % t.size);
            bool wrapNow = newPosition / t.size % 2 == 0;
            int eventIdx = t.wrap == wrapNow ? t.offset : t.offset - t.size;
            bool linux = EventIndex.NeedsEvent((ushort)eventIdx, (ushort)newIndex, (ushort)(newIndex - t.count));
            Assert.Equal(linux, QueueModel.PackedEventReached(t.size, t.offset, t.wrap, oldPosition, newPosition));
        });

    [Fact]
    public void FeatureSet_AllCombinations_AreEightDistinct()
    {
        Assert.Equal(8, RingGen.AllFeatureSets.Distinct().Count());
        Assert.Contains(VirtqueueFeatures.EventIndex | VirtqueueFeatures.IndirectDescriptors | VirtqueueFeatures.InOrder, RingGen.AllFeatureSets);
        Assert.Contains(VirtqueueFeatures.None, RingGen.AllFeatureSets);
    }

    [Property(MaxTest = 200)]
    public Property ScenarioFor_AnyLayout_GeneratesValidScenarios() => Prop.ForAll(
        Arb.From(RingGen.Kind.SelectMany(RingGen.ScenarioFor)),
        s => s.IsValid && s.Ops.Count > 0);

    [Property(MaxTest = 200)]
    public Property ShrinkScenario_AnyScenario_KeepsScenariosValid() => Prop.ForAll(
        Arb.From(RingGen.Kind.SelectMany(RingGen.ScenarioFor)),
        s => RingGen.ShrinkScenario(s).Take(50).All(x => x.IsValid));

    [Fact]
    public void SplitDecision_NoEventIndex_FollowsFlagsAndIsFalseWhenNothingPublished()
    {
        Assert.True(QueueModel.SplitDecision(false, 0, 0, 5, 4, "f", "e").Decision);
        Assert.False(QueueModel.SplitDecision(false, 1, 0, 5, 4, "f", "e").Decision);
        Assert.False(QueueModel.SplitDecision(false, 0, 0, 4, 4, "f", "e").Decision);
        Assert.True(QueueModel.SplitDecision(true, 1, 4, 5, 4, "f", "e").Decision);
        Assert.False(QueueModel.SplitDecision(true, 0, 5, 5, 4, "f", "e").Decision);
    }

    [Fact]
    public void PackedDecision_DescWithoutEventIndex_IsAViolation()
    {
        Assert.Null(QueueModel.PackedDecision(new EventSuppression(0, EventSuppression.Desc), false, 8, 0, 1, out string? invalid));
        Assert.NotNull(invalid);
        Assert.False(QueueModel.PackedDecision(new EventSuppression(0, EventSuppression.Disable), false, 8, 0, 1, out invalid));
        Assert.Null(invalid);
        Assert.True(QueueModel.PackedDecision(new EventSuppression(0x8000, EventSuppression.Desc), true, 8, 0, 1, out invalid));
    }
}
