using System;
using System.Threading;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using VirtioRing.Net.Engine;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Net.Engine;

/// <summary>Control-queue handling in the device: when <c>VQ_PAIRS_SET</c> applies, in what order, and before <see cref="NetDevice.Start"/>.</summary>
public sealed class ControlQueueTests
{
    public static TheoryData<QueueKind> Kinds => new() { QueueKind.Split, QueueKind.Packed };

    private static byte[] Pairs(ushort n)
    {
        var cmd = new byte[8];
        int len = NetControlEncoder.WriteQueuePairs(cmd, n);
        return cmd.AsSpan(0, len).ToArray();
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ProcessControl_HostSetActivePairsThenUnrelatedCommand_KeepsHostPairs(QueueKind kind)
    {
        using var rig = new EngineRig(kind, pairs: 4);
        rig.Device.Start();
        rig.Device.SetActivePairs(3);
        var cmd = new byte[16];
        int n = NetControlEncoder.WriteRxMode(cmd, NetRxMode.Promiscuous, on: true);
        Assert.Equal(ControlAck.Ok, NetDeviceTests.Control(rig, cmd.AsSpan(0, n).ToArray()));
        Assert.Equal(3, rig.Device.ActivePairs);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void ProcessControl_VqPairsSet_AppliedBeforeAckIsPublished(QueueKind kind)
    {
        using var rig = new EngineRig(kind, pairs: 2);
        int q = rig.Device.ControlQueueIndex;
        var spy = new PublishSpyQueue(rig.Queues[q].Device, () => rig.Device.ActivePairs);
        rig.Device.SetQueue(q, spy, rig.Calls[q]);
        rig.Device.Start();
        Assert.Equal(ControlAck.Ok, NetDeviceTests.Control(rig, Pairs(2)));
        Assert.Equal(2, spy.PairsAtFirstPublish);
    }

    [Fact]
    public void ProcessControl_VqPairsSetToggled_WorkersParkedNotRecreated()
    {
        using var rig = new EngineRig(QueueKind.Split, pairs: 2, worker: NetWorkerMode.Blocking);
        rig.Device.Start();
        Assert.Equal(ControlAck.Ok, NetDeviceTests.Control(rig, Pairs(2)));
        Thread? first = rig.Device.GetPair(1).Worker;
        Assert.NotNull(first);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(ControlAck.Ok, NetDeviceTests.Control(rig, Pairs(1)));
            Assert.Equal(ControlAck.Ok, NetDeviceTests.Control(rig, Pairs(2)));
        }

        Assert.Same(first, rig.Device.GetPair(1).Worker);
        Assert.True(first!.IsAlive);
    }

    /// <summary>Forwards to a queue and records a value when the first used element is published.</summary>
    private sealed class PublishSpyQueue(IDeviceQueue inner, Func<int> probe) : IDeviceQueue
    {
        public int PairsAtFirstPublish { get; private set; } = -1;

        public int Size => inner.Size;

        public VirtqueueFeatures Features => inner.Features;

        public GuestMemory Memory
        {
            get => inner.Memory;
            set => inner.Memory = value;
        }

        public VirtqueueFault Fault => inner.Fault;

        public bool IsBroken => inner.IsBroken;

        public int InFlight => inner.InFlight;

        public PopStatus TryPopAvailable(out DescriptorChain chain) => inner.TryPopAvailable(out chain);

        public void PushUsed(in DescriptorChain chain, uint writtenLength) => inner.PushUsed(chain, writtenLength);

        public int PublishUsed()
        {
            if (PairsAtFirstPublish < 0)
            {
                PairsAtFirstPublish = probe();
            }

            return inner.PublishUsed();
        }

        public bool ShouldNotifyDriver() => inner.ShouldNotifyDriver();

        public void DisableNotifications() => inner.DisableNotifications();

        public bool EnableNotifications() => inner.EnableNotifications();

        public QueueState SaveState() => inner.SaveState();

        public void RestoreState(QueueState state) => inner.RestoreState(state);

        public void Reset() => inner.Reset();
    }
}
