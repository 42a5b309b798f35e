using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.TestKit;

namespace VirtioRing.Tests.Properties;

/// <summary>
/// Random interleavings of driver and device operations on real queues, compared step by step with
/// <see cref="QueueModel"/> (see <see cref="ModelRunner"/> for every check). Sizes are random per
/// layout and the features are one of the 8 combinations of EVENT_IDX / INDIRECT_DESC / IN_ORDER.
/// Seeds are random; a failure prints its seed and shrunk scenario: pin it with <c>Replay</c> in a
/// regression test of its own (STYLE C13).
/// </summary>
public class ModelBasedProperties
{
    [Property(MaxTest = 1000)]
    public Property SplitQueue_RandomDriverAndDeviceInterleavings_MatchModel() => Check(QueueKind.Split);

    [Property(MaxTest = 1000)]
    public Property PackedQueue_RandomDriverAndDeviceInterleavings_MatchModel() => Check(QueueKind.Packed);

    private static Property Check(QueueKind kind) =>
        Prop.ForAll(Arb.From(RingGen.ScenarioFor(kind), RingGen.ShrinkScenario), ModelRunner.Run);
}
