using System.Collections.Generic;
using System.Linq;
using FsCheck.Fluent;
using Xunit;

namespace VirtioRing.Tests.Net.Control;

/// <summary>Guards the property's generator: it must produce valid commands of every kind and many refusals.</summary>
public class ControlCommandGenCoverageTests
{
    [Fact]
    public void Step_Samples_ReachEveryValidCommandAndManyRefusals()
    {
        var valid = new Dictionary<int, int>();
        int refused = 0;
        var model = new ControlModel(ControlRig.AllControl, ControlRig.Limits());
        foreach (ControlStep step in ControlCommandGen.Step.Sample(4000, 50))
        {
            if (step.RequestAnnounce)
            {
                model.Announce = true;
                continue;
            }

            if (model.Apply(step.Command, step.ResponseLength, out _))
            {
                int key = (step.Command[0] << 8) | step.Command[1];
                valid[key] = valid.GetValueOrDefault(key) + 1;
            }
            else
            {
                refused++;
            }
        }

        int[] expected = { 0x000, 0x001, 0x002, 0x003, 0x004, 0x005, 0x100, 0x101, 0x200, 0x201, 0x300, 0x400, 0x401, 0x402, 0x500, 0x600, 0x601, 0x602, 0x603 };
        string seen = string.Join(", ", valid.OrderBy(p => p.Key).Select(p => $"{p.Key:x3}:{p.Value}"));
        Assert.All(expected, k => Assert.True(valid.GetValueOrDefault(k) >= 5, $"command {k:x3} valid only {valid.GetValueOrDefault(k)} times; {seen}"));
        Assert.True(refused >= 1000, $"only {refused} refusals");
    }
}
