using System.Threading;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Net.Engine;

/// <summary>Deliveries racing a change of the active pair count.</summary>
public sealed class PairChangeTests
{
    [Fact]
    public void Deliver_WhilePairCountChanges_NeverAnswersQueueDown()
    {
        using var rig = new EngineRig(QueueKind.Split, pairs: 4, mode: LoopbackMode.Capture);
        rig.Device.Start();
        byte[] frame = NetDeviceTests.Frame(80, 1);
        int queueDown = 0;
        int deliveries = 0;
        using var stop = new ManualResetEventSlim();
        var sender = new Thread(() =>
        {
            while (!stop.IsSet)
            {
                // No receive buffers are posted: a usable queue answers NoBuffers, a stopped one QueueDown.
                NetDeliveryResult r = rig.Device.Deliver(3, NetFrame.FromSpan(default, frame));
                if (r.Status == NetDeliveryStatus.QueueDown)
                {
                    queueDown++;
                }

                deliveries++;
            }
        });
        sender.Start();
        for (int i = 0; i < 20000 && Volatile.Read(ref queueDown) == 0; i++)
        {
            rig.Device.SetActivePairs(4);
            rig.Device.SetActivePairs(1);
        }

        stop.Set();
        sender.Join();
        Assert.True(deliveries > 0);
        Assert.Equal(0, queueDown);
    }
}
