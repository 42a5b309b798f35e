using System;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Queues;
using VirtioRing.TestKit;

namespace VirtioRing.Tests.Properties;

/// <summary>
/// More than 65536 buffers through a small queue (the 16-bit split indices and the packed wrap
/// counters wrap many times) with random batch sizes at every stage, every step checked against
/// the model (notification decisions included).
/// </summary>
public class IndexWrapProperties
{
    private const int Buffers = 65536 + 1000;

    [Property(MaxTest = 6)]
    public Property SplitQueue_MoreThan65536BuffersInRandomBatches_MatchModel() => Check(QueueKind.Split);

    [Property(MaxTest = 6)]
    public Property PackedQueue_MoreThan65536BuffersInRandomBatches_MatchModel() => Check(QueueKind.Packed);

    private static Property Check(QueueKind kind) => Prop.ForAll(
        Arb.From(from size in RingGen.SmallSizeFor(kind)
                 from features in RingGen.FeatureSet
                 from seed in Gen.Choose(0, int.MaxValue)
                 select new WrapCase(new QueueConfig(kind, size, features), seed)),
        Run);

    private static void Run(WrapCase c)
    {
        using var runner = new ModelRunner(c.Config, c.Seed);
        QueueModel model = runner.Model;
        var random = new Random(c.Seed);
        int size = c.Config.Size;
        while (model.Reclaimed < Buffers)
        {
            int adds = random.Next(1, size + 1);
            for (int i = 0; i < adds; i++)
            {
                runner.Apply(RingOp.Add(RandomChain(random, c.Config)));
            }

            runner.Apply(RingOp.Of(RingOpKind.Publish));
            Maybe(random, runner, RingOpKind.Kick, 70);
            Toggle(random, runner, RingOpKind.EnableNotifications, RingOpKind.DisableNotifications);
            Repeat(runner, RingOpKind.Pop, Batch(random, model.AvailableCount, size));
            int pushes = Batch(random, model.Held.Count, size);
            for (int i = 0; i < pushes; i++)
            {
                runner.Apply(RingOp.Push(random.Next(1000), random.Next(10) < 3 ? 0 : random.Next(101)));
            }

            runner.Apply(RingOp.Of(RingOpKind.PublishUsed));
            Maybe(random, runner, RingOpKind.Notify, 70);
            Toggle(random, runner, RingOpKind.EnableUsedNotifications, RingOpKind.DisableUsedNotifications);
            Repeat(runner, RingOpKind.Reclaim, Batch(random, model.UsedCount, size));
        }

        runner.DrainAndVerify();
    }

    // Mostly everything, sometimes a part: a full ring always drains so the run moves on.
    private static int Batch(Random random, int pending, int size) =>
        pending == 0 ? 0 : pending >= size || random.Next(4) != 0 ? pending : random.Next(0, pending + 1);

    private static void Repeat(ModelRunner runner, RingOpKind kind, int count)
    {
        for (int i = 0; i < count; i++)
        {
            runner.Apply(RingOp.Of(kind));
        }
    }

    private static void Maybe(Random random, ModelRunner runner, RingOpKind kind, int percent)
    {
        if (random.Next(100) < percent)
        {
            runner.Apply(RingOp.Of(kind));
        }
    }

    private static void Toggle(Random random, ModelRunner runner, RingOpKind enable, RingOpKind disable)
    {
        int r = random.Next(20);
        if (r == 0)
        {
            runner.Apply(RingOp.Of(enable));
        }
        else if (r == 1)
        {
            runner.Apply(RingOp.Of(disable));
        }
    }

    private static ChainSpec RandomChain(Random random, QueueConfig config)
    {
        int n = random.Next(1, Math.Min(3, config.MaxChainSegments) + 1);
        int readable = random.Next(0, n + 1);
        uint[] lengths = new uint[n];
        for (int i = 0; i < n; i++)
        {
            lengths[i] = (uint)random.Next(1, 17);
        }

        return new ChainSpec(lengths[..readable], lengths[readable..]);
    }

    public sealed record WrapCase(QueueConfig Config, int Seed);
}
