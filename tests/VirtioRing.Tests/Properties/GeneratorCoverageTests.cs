using System.Collections.Generic;
using FsCheck.Fluent;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Properties;

/// <summary>
/// Guards against properties that pass because they test nothing: samples of the generators must
/// reach the interesting states (full rings, long chains, out-of-order and zero-length pushes,
/// notification decisions both ways, deep walks and many kinds of faults). Thresholds are far
/// below what the generators reach (about half of them), so random samples do not make these flaky.
/// </summary>
public class GeneratorCoverageTests
{
    [Theory]
    [InlineData(QueueKind.Split)]
    [InlineData(QueueKind.Packed)]
    public void ScenarioFor_Samples_ReachFullRingsLongChainsAnyOrderAndBothDecisions(QueueKind kind)
    {
        const int Samples = 300;
        var total = new RunnerStatistics();
        int fullRuns = 0;
        foreach (ModelScenario s in RingGen.ScenarioFor(kind).Sample(Samples, 60))
        {
            using var runner = new ModelRunner(s.Config, s.Seed);
            foreach (RingOp op in s.Ops)
            {
                runner.Apply(op);
            }

            runner.DrainAndVerify();
            fullRuns += runner.Statistics[RunnerEvent.AddRejected] > 0 ? 1 : 0;
            total.Add(runner.Statistics);
        }

        Assert.True(fullRuns >= Samples / 5, $"only {fullRuns} of {Samples} runs filled the ring; {total}");
        Assert.True(total[RunnerEvent.PoppedLong] > 0, total.ToString());
        Assert.True(total[RunnerEvent.PushedOutOfOrder] > 0, total.ToString());
        Assert.True(total[RunnerEvent.PushedEmpty] > 0, total.ToString());
        Assert.True(total[RunnerEvent.DecisionTrue] > 0 && total[RunnerEvent.DecisionFalse] > 0, total.ToString());
    }

    [Theory]
    [InlineData(QueueKind.Split)]
    [InlineData(QueueKind.Packed)]
    public void HostileFor_Samples_PopChainsAndHitManyFaults(QueueKind kind)
    {
        const int Samples = 500;
        var outcomes = new Dictionary<VirtqueueFault, int>();
        int runsWithChains = 0;
        int multiSegment = 0;
        foreach (HostileRingImage image in RingGen.HostileFor(kind).Sample(Samples, 60))
        {
            using QueuePair pair = image.CreatePair();
            image.WriteTo(pair);
            int popped = 0;
            PopStatus status;
            for (int i = 0; (status = pair.Device.TryPopAvailable(out DescriptorChain chain)) == PopStatus.Popped && i <= image.Config.Size; i++)
            {
                popped++;
                multiSegment += chain.SegmentCount > 1 ? 1 : 0;
            }

            runsWithChains += popped > 0 ? 1 : 0;
            outcomes[pair.Device.Fault] = outcomes.GetValueOrDefault(pair.Device.Fault) + 1;
        }

        string summary = string.Join(", ", outcomes);
        Assert.True(runsWithChains >= Samples / 4, $"only {runsWithChains} of {Samples} rings gave a chain; {summary}");
        Assert.True(multiSegment > 0, summary);
        Assert.True(outcomes.GetValueOrDefault(VirtqueueFault.None) >= Samples / 10, summary);
        Assert.True(outcomes.Count >= 6, $"only {outcomes.Count - 1} kinds of fault: {summary}");
    }
}
