using System;
using System.Threading;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Net.Engine;

/// <summary>Lifecycle: the fault event's thread and locks, feature changes after a stop, and the poll re-entry guard.</summary>
public sealed class LifecycleTests
{
    private static void BreakTransmit(EngineRig rig, int pair)
    {
        QueuePair tx = rig.Queues[(2 * pair) + 1];
        Assert.True(tx.Driver.TryAddChain([BufferSegment.Readable(new GuestAddress(0x7FFF_0000_0000), 64)], 99));
        tx.Driver.PublishAvailable();
        rig.Device.Kick((2 * pair) + 1);
    }

    /// <summary>Runs an action on a new thread and waits for it at most <paramref name="ms"/> milliseconds.</summary>
    private static bool RunElsewhere(Action action, int ms)
    {
        var t = new Thread(() => action()) { IsBackground = true };
        t.Start();
        return t.Join(ms);
    }

    [Fact]
    public void QueueBroken_HandlerStopsDeviceFromAnotherThread_NoDeadlock()
    {
        using var rig = new EngineRig(QueueKind.Split, pairs: 2, worker: NetWorkerMode.Blocking);
        using var raised = new ManualResetEventSlim();
        bool done = false;
        rig.Device.QueueBroken += (_, _) =>
        {
            // A management thread stops the device while the handler waits for it (a common shape).
            done = RunElsewhere(rig.Device.Stop, 5000);
            raised.Set();
        };
        rig.Device.Start();
        BreakTransmit(rig, 0);
        Assert.True(raised.Wait(TimeSpan.FromSeconds(10)), "the event was raised");
        Assert.True(done, "Stop completed while the handler waited");
        Assert.False(rig.Device.IsRunning);
    }

    [Fact]
    public void QueueBroken_ControlQueueHandlerResetsFromAnotherThread_NoDeadlock()
    {
        using var rig = new EngineRig(QueueKind.Split, pairs: 1);
        using var raised = new ManualResetEventSlim();
        bool done = false;
        rig.Device.QueueBroken += (_, _) =>
        {
            done = RunElsewhere(rig.Device.Reset, 5000);
            raised.Set();
        };
        rig.Device.Start();
        int q = rig.Device.ControlQueueIndex;
        QueuePair ctrl = rig.Queues[q];
        Assert.True(ctrl.Driver.TryAddChain([BufferSegment.Readable(new GuestAddress(0x7FFF_0000_0000), 64)], 99));
        ctrl.Driver.PublishAvailable();
        Assert.True(RunElsewhere(() => rig.Device.Kick(q), 10000), "the kick returned");
        Assert.True(raised.Wait(TimeSpan.FromSeconds(10)), "the event was raised");
        Assert.True(done, "Reset completed while the handler waited");
    }

    [Fact]
    public void QueueBroken_HandlerRestartsDevice_OneWorkerPerPair()
    {
        using var rig = new EngineRig(QueueKind.Split, pairs: 1, worker: NetWorkerMode.Blocking);
        using var done = new ManualResetEventSlim();
        rig.Device.QueueBroken += (_, _) =>
        {
            rig.Device.Stop();
            rig.Device.Start();
            done.Set();
        };
        rig.Device.Start();
        Thread? worker = rig.Device.GetPair(0).Worker;
        BreakTransmit(rig, 0);
        Assert.True(done.Wait(TimeSpan.FromSeconds(10)));
        Assert.Same(worker, rig.Device.GetPair(0).Worker);
        Assert.True(rig.Device.IsRunning);
    }

    [Fact]
    public void Poll_ReenteredFromBackend_Throws()
    {
        var backend = new ReentrantBackend();
        using var device = new NetDevice(new NetDeviceOptions { Backend = backend, WorkerMode = NetWorkerMode.Manual });
        Assert.True(device.SetDriverFeatures(NetFeatures.Version1).IsValid);
        device.Start();
        backend.Pair = device.GetPair(0);
        device.GetPair(0).Poll(4);
        Assert.IsType<InvalidOperationException>(backend.Caught);
    }

    [Fact]
    public void Poll_FromOutsideTheWorkerInBlockingMode_Throws()
    {
        using var rig = new EngineRig(QueueKind.Split, worker: NetWorkerMode.Blocking);
        rig.Device.Start();
        Assert.Throws<InvalidOperationException>(() => rig.Device.GetPair(0).Poll(4));
    }

    /// <summary>A backend whose receive step polls the pair again (re-entry).</summary>
    private sealed class ReentrantBackend : INetBackend
    {
        public NetQueuePair? Pair { get; set; }

        public Exception? Caught { get; private set; }

        public NetOffloads Offloads => NetOffloads.None;

        public int QueueCount => 1;

        public void Attach(INetBackendHost host)
        {
        }

        public void Detach()
        {
        }

        public NetTransmitStatus Transmit(int queue, in NetFrame frame) => NetTransmitStatus.Sent;

        public void FlushTransmit(int queue)
        {
        }

        public int Receive(int queue, int budget)
        {
            if (Pair is { } p && Caught is null)
            {
                try
                {
                    p.Poll(1);
                    Caught = new Exception("no guard");
                }
                catch (InvalidOperationException e)
                {
                    Caught = e;
                }
            }

            return 0;
        }
    }
}
