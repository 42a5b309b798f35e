using System.Collections.Generic;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Control;
using VirtioRing.Net.Engine;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Net.Engine;

/// <summary>Pairs that share one backend queue (more pairs than backend queues).</summary>
public sealed class SharedBackendQueueTests
{
    public static TheoryData<QueueKind> Kinds => new() { QueueKind.Split, QueueKind.Packed };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Transmit_OtherPairHoldsBusyChainOnSharedQueue_WaitsUntilReleased(QueueKind kind)
    {
        using var rig = new EngineRig(kind, pairs: 2, mode: LoopbackMode.Capture, backendCapacity: 1, backendQueues: 1);
        rig.Device.Start();
        rig.Device.SetActivePairs(2);
        Assert.True(rig.Send(0, default, NetDeviceTests.Frame(100, 0)));
        Assert.True(rig.Send(0, default, NetDeviceTests.Frame(100, 1)));
        rig.Device.GetPair(0).Poll(8);   // 0 sent, 1 busy: pair 0 holds it
        Assert.True(rig.Device.GetPair(0).HasHeldChain);
        Assert.True(rig.Send(1, default, NetDeviceTests.Frame(100, 2)));
        rig.Device.GetPair(1).Poll(8);   // must not take the backend queue from pair 0
        Assert.False(rig.Device.GetPair(1).HasHeldChain);

        var order = new List<int>();
        Assert.True(rig.Backend.TryTakeTransmitted(0, out _, out byte[] f));   // room again (wakes both pairs)
        order.Add(NetDeviceTests.IdOf(f));
        long wakes = ((Doorbell)rig.Device.GetPair(1).Signal).NotifyCount;
        rig.Device.GetPair(1).Poll(8);   // still pair 0's turn
        Assert.Equal(0, rig.Backend.PendingTransmitted(0));
        rig.Device.GetPair(0).Poll(8);   // frame 1 goes; the claim is released and pair 1 woken
        Assert.True(((Doorbell)rig.Device.GetPair(1).Signal).NotifyCount > wakes, "the sharing pair is woken when the claim is released");
        Assert.True(rig.Backend.TryTakeTransmitted(0, out _, out f));
        order.Add(NetDeviceTests.IdOf(f));
        rig.Device.GetPair(1).Poll(8);
        Assert.True(rig.Backend.TryTakeTransmitted(0, out _, out f));
        order.Add(NetDeviceTests.IdOf(f));
        Assert.Equal([0, 1, 2], order);
        Assert.Equal(2, rig.ReclaimTx(0));
        Assert.Equal(1, rig.ReclaimTx(1));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Transmit_HolderDeactivated_SharingPairFinishesHeldChainFirst(QueueKind kind)
    {
        using var rig = new EngineRig(kind, pairs: 2, mode: LoopbackMode.Capture, backendCapacity: 1, backendQueues: 1);
        rig.Device.Start();
        rig.Device.SetActivePairs(2);
        Assert.True(rig.Send(1, default, NetDeviceTests.Frame(100, 0)));
        Assert.True(rig.Send(1, default, NetDeviceTests.Frame(100, 1)));
        rig.Device.GetPair(1).Poll(8);
        Assert.True(rig.Device.GetPair(1).HasHeldChain);
        rig.Device.SetActivePairs(1);   // the holder leaves the active set with its chain held
        Assert.True(rig.Send(0, default, NetDeviceTests.Frame(100, 2)));
        var order = new List<int>();
        for (int i = 0; i < 6 && order.Count < 3; i++)
        {
            rig.Device.GetPair(0).Poll(8);
            while (rig.Backend.TryTakeTransmitted(0, out _, out byte[] f))
            {
                order.Add(NetDeviceTests.IdOf(f));
            }
        }

        Assert.Equal([0, 1, 2], order);
        Assert.Equal(2, rig.ReclaimTx(1));
        Assert.Equal(1, rig.ReclaimTx(0));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Reset_WithHeldBusyChain_TellsTheBackendTheFrameIsAbandoned(QueueKind kind)
    {
        // The switch remembers which ports got a Busy frame; after a reset the same bytes are a new
        // frame, so the engine must say it gave the held one up.
        using var rig = new EngineRig(kind, pairs: 1, mode: LoopbackMode.Capture, backendCapacity: 1);
        rig.Device.Start();
        Assert.True(rig.Send(0, default, NetDeviceTests.Frame(100, 0)));
        Assert.True(rig.Send(0, default, NetDeviceTests.Frame(100, 1)));
        rig.Device.GetPair(0).Poll(8);
        Assert.True(rig.Device.GetPair(0).HasHeldChain);
        Assert.Equal(0, rig.Backend.AbandonedHolds);
        rig.Device.Reset();
        Assert.Equal(1, rig.Backend.AbandonedHolds);
        Assert.False(rig.Device.GetPair(0).HasHeldChain);
    }
}
