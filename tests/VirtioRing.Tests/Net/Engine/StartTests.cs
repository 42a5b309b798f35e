using System;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Net.Engine;

/// <summary>What <see cref="VirtioRing.Net.Engine.NetDevice.Start"/> picks up that was posted before it.</summary>
public sealed class StartTests
{
    public static TheoryData<QueueKind> Kinds => new() { QueueKind.Split, QueueKind.Packed };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Start_ControlCommandPostedBefore_ProcessedOnStart(QueueKind kind)
    {
        using var rig = new EngineRig(kind, pairs: 2);
        int q = rig.Device.ControlQueueIndex;
        QueuePair qp = rig.Queues[q];
        var cmd = new byte[8];
        byte[] command = cmd.AsSpan(0, NetControlEncoder.WriteQueuePairs(cmd, 2)).ToArray();
        GuestAddress c = qp.Buffers.Rent();
        GuestAddress ack = qp.Buffers.Rent();
        command.CopyTo(qp.Memory.GetSpan(c, (ulong)command.Length));
        Assert.True(qp.Driver.TryAddChain([BufferSegment.Readable(c, (uint)command.Length), BufferSegment.Writable(ack, 1)], 7));
        qp.Driver.PublishAvailable();
        rig.Device.Kick(q);   // before Start
        rig.Device.Start();
        Assert.Equal(PopStatus.Popped, qp.Driver.TryReclaimUsed(out _));
        Assert.Equal(ControlAck.Ok, (ControlAck)qp.Memory.GetSpan(ack, 1)[0]);
        Assert.Equal(2, rig.Device.ActivePairs);
    }
}
