using System;
using System.Threading;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Net.Engine;

/// <summary>
/// A caller that polls pairs itself (<see cref="NetWorkerMode.Manual"/>) sleeps with <see cref="NetQueuePair.PrepareToWait"/>
/// and <see cref="NetQueuePair.EndWait"/> (enable-and-recheck, §2.7.10); a busy-polling worker turns kicks off once.
/// </summary>
public sealed class PollWaitTests
{
    private static readonly byte[] Frame = MakeFrame();

    private static byte[] MakeFrame()
    {
        byte[] f = new byte[60];
        f[0] = 0x02;
        f[6] = 0x02;
        f[12] = 0x88;
        f[13] = 0xb5;
        return f;
    }

    private static void WaitFor(Func<bool> condition, string message)
    {
        Assert.True(SpinWait.SpinUntil(condition, TimeSpan.FromSeconds(10)), message);
    }

    [Theory]
    [InlineData(QueueKind.Split)]
    [InlineData(QueueKind.Packed)]
    public void PrepareToWait_EmptyRing_RequestsKickAndEndWaitWithdrawsIt(QueueKind kind)
    {
        using var rig = new EngineRig(kind, mode: LoopbackMode.Capture);
        rig.Device.Start();
        NetQueuePair pair = rig.Device.GetPair(0);
        Assert.Equal(0, pair.Poll(32));

        pair.EndWait();                                       // polling: the driver need not kick
        Assert.True(rig.Send(0, default, Frame, kick: false));
        Assert.False(rig.Tx(0).ShouldNotifyDevice(), "kicks were still requested after EndWait");

        // The chain posted without a kick is seen by the recheck: do not sleep.
        Assert.True(pair.PrepareToWait(), "the recheck missed a chain already in the ring");
        Assert.Equal(1, pair.Poll(32));
        Assert.Equal(1, rig.Backend.PendingTransmitted(0));

        // Empty now: armed, the caller may sleep, and the driver's next chain asks for a kick.
        Assert.False(pair.PrepareToWait());
        Assert.True(rig.Send(0, default, Frame, kick: false));
        Assert.True(rig.Tx(0).ShouldNotifyDevice(), "no kick was requested before the sleep");
        pair.EndWait();
        Assert.Equal(1, pair.Poll(32));
    }

    [Fact]
    public void PrepareToWait_KickWhileArmed_SignalsThePairsSignal()
    {
        using var rig = new EngineRig(QueueKind.Split, mode: LoopbackMode.Capture);
        rig.Device.Start();
        NetQueuePair pair = rig.Device.GetPair(0);
        var signal = (Doorbell)pair.Signal;
        pair.Poll(32);
        signal.Wait(0);   // consume what the start signalled
        Assert.False(pair.PrepareToWait());
        Assert.False(signal.IsSignalled);

        Assert.True(rig.Send(0, default, Frame));            // the driver kicks; the device wakes the pair's signal
        Assert.True(signal.Wait(5000), "the kick did not signal the sleeping poller");
        pair.EndWait();
        Assert.Equal(1, pair.Poll(32));
    }

    [Fact]
    public void PrepareToWait_StoppedDevice_ReturnsFalseAndLeavesTheRingAlone()
    {
        using var rig = new EngineRig(QueueKind.Split, mode: LoopbackMode.Capture);
        rig.Device.Start();
        NetQueuePair pair = rig.Device.GetPair(0);
        pair.EndWait();
        rig.Device.Stop();
        Assert.True(rig.Send(0, default, Frame, kick: false));
        Assert.False(pair.PrepareToWait(), "an inactive pair reported work");
        Assert.False(rig.Tx(0).ShouldNotifyDevice(), "the ring of a stopped pair was touched (kicks re-armed)");
        Assert.Equal(0, pair.Poll(32));
        Assert.Equal(0, rig.Backend.PendingTransmitted(0));
    }

    [Fact]
    public void PrepareToWait_DeviceWithWorkers_Throws()
    {
        using var rig = new EngineRig(QueueKind.Split, mode: LoopbackMode.Capture, worker: NetWorkerMode.Blocking);
        rig.Device.Start();
        Assert.Throws<InvalidOperationException>(() => rig.Device.GetPair(0).PrepareToWait());
        Assert.Throws<InvalidOperationException>(() => rig.Device.GetPair(0).EndWait());
    }

    [Theory]
    [InlineData(QueueKind.Split)]
    [InlineData(QueueKind.Packed)]
    public void BusyPoll_Started_TurnsTransmitKicksOffAndStillMovesChains(QueueKind kind)
    {
        using var rig = new EngineRig(kind, mode: LoopbackMode.Capture, worker: NetWorkerMode.BusyPoll);
        rig.Device.Start();
        Assert.True(rig.Send(0, default, Frame));
        WaitFor(() => rig.Backend.PendingTransmitted(0) == 1, "the busy worker did not transmit");

        // The worker turned kick requests off before its first round: the driver's next chain needs no kick.
        Assert.True(rig.Send(0, default, Frame, kick: false));
        Assert.False(rig.Tx(0).ShouldNotifyDevice(), "a busy-polling pair still asks the driver to kick");
        WaitFor(() => rig.Backend.PendingTransmitted(0) == 2, "the busy worker did not pick up the chain posted without a kick");
    }
}
