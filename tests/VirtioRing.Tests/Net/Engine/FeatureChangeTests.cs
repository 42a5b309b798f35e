using System;
using VirtioRing.Net;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Net.Engine;

/// <summary>Feature changes after the device ran.</summary>
public sealed class FeatureChangeTests
{
    [Fact]
    public void SetDriverFeatures_AfterStopWithoutReset_Throws()
    {
        using var rig = new EngineRig(QueueKind.Split);
        rig.Device.Start();
        rig.Device.Stop();
        Assert.Throws<InvalidOperationException>(() => rig.Device.SetDriverFeatures(NetFeatures.Version1));
        rig.Device.Reset();
        Assert.True(rig.Device.SetDriverFeatures(NetFeatures.Version1).IsValid);
    }
}
