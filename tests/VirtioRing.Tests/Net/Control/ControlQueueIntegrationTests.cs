using VirtioRing.Net;
using System;
using VirtioRing.Memory;
using VirtioRing.Net.Control;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Queues;
using VirtioRing.Tests.Queues.Split;
using Xunit;

namespace VirtioRing.Tests.Net.Control;

/// <summary>Commands through real split queues: the driver encodes into guest memory, the device handles the chain, the driver reads the ack.</summary>
public class ControlQueueIntegrationTests
{
    private static (ControlAck Ack, uint Written, byte[] Response) Send(SplitPair pair, NetControlHandler handler, int slot,
        Func<byte[], int> write, int responseLength = NetControlEncoder.AckLength, bool splitCommand = false)
    {
        var bytes = new byte[2048];
        int length = write(bytes);
        GuestAddress command = SplitPair.Data(2 * slot);
        GuestAddress response = SplitPair.Data((2 * slot) + 1);
        pair.Memory.Write(command, bytes.AsSpan(0, length));
        pair.Memory.Write(response, new byte[responseLength]);
        pair.Memory.GetSpan(response, (ulong)responseLength).Fill(0xEE);

        var segments = new BufferSegment[4];
        int count = NetControlEncoder.ToSegments(command, length, response, responseLength, segments);
        if (splitCommand && length >= 3)
        {
            // Class, command and data in three readable descriptors, as Linux builds them.
            segments[0] = BufferSegment.Readable(command, 1);
            segments[1] = BufferSegment.Readable(new GuestAddress(command.Value + 1), 1);
            segments[2] = BufferSegment.Readable(new GuestAddress(command.Value + 2), (uint)length - 2);
            segments[3] = BufferSegment.Writable(response, (uint)responseLength);
            count = 4;
        }

        pair.AddAndPublish((ulong)slot, segments.AsSpan(0, count).ToArray());
        Assert.Equal(1, handler.ProcessAvailable(pair.Device));
        UsedBuffer used = pair.Reclaim();
        Assert.Equal((ulong)slot, used.Token);
        var result = new byte[responseLength];
        pair.Memory.Read(response, result);
        return (NetControlEncoder.ReadAck(result, used.WrittenLength), used.WrittenLength, result);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Commands_ThroughSplitQueues_AreAppliedAndAcked(bool splitCommand)
    {
        using var pair = new SplitPair(16, VirtqueueFeatures.None);
        NetControlHandler handler = ControlRig.Handler(maxPairs: 4);
        MacAddress mac = MacAddress.Parse("02:01:02:03:04:05");

        Assert.Equal(ControlAck.Ok, Send(pair, handler, 0, b => NetControlEncoder.WriteRxMode(b, NetRxMode.Promiscuous, false), splitCommand: splitCommand).Ack);
        Assert.Equal(ControlAck.Ok, Send(pair, handler, 1, b => NetControlEncoder.WriteMacAddress(b, mac), splitCommand: splitCommand).Ack);
        Assert.Equal(ControlAck.Ok, Send(pair, handler, 2, b => NetControlEncoder.WriteQueuePairs(b, 3), splitCommand: splitCommand).Ack);
        Assert.Equal(ControlAck.Ok, Send(pair, handler, 3, b => NetControlEncoder.WriteRssConfig(b, NetHashTypes.TcpV4,
            new ushort[] { 0, 1, 2, 0 }, 1, 2, new byte[40]), splitCommand: splitCommand).Ack);
        Assert.Equal(ControlAck.Err, Send(pair, handler, 4, b => NetControlEncoder.WriteQueuePairs(b, 9), splitCommand: splitCommand).Ack);
        Assert.Equal(ControlAck.Ok, Send(pair, handler, 5, b => NetControlEncoder.WriteQueueCoalescingSet(b, 1, new NotificationCoalescing(4, 50))).Ack);
        var get = Send(pair, handler, 6, b => NetControlEncoder.WriteQueueCoalescingGet(b, 1), NetControlEncoder.QueueCoalescingGetResponseLength);
        Assert.Equal(9u, get.Written);
        Assert.True(NetControlEncoder.TryReadQueueCoalescing(get.Response, get.Written, out NotificationCoalescing c));
        Assert.Equal(new NotificationCoalescing(4, 50), c);

        NetControlState s = handler.State;
        Assert.Equal(NetRxMode.None, s.RxMode);
        Assert.Equal(mac, s.PrimaryMac);
        Assert.Equal(ReceiveSteering.Rss, s.Steering);
        Assert.Equal(2, s.ActiveQueuePairs);
        Assert.True(pair.Guarded.GuardsIntact());
    }

    [Fact]
    public void Chain_WithoutWritableByte_IsUsedWithLengthZeroAndChangesNothing()
    {
        using var pair = new SplitPair(8, VirtqueueFeatures.None);
        NetControlHandler handler = ControlRig.Handler();
        NetControlState before = handler.State;
        var bytes = new byte[8];
        int n = NetControlEncoder.WriteRxMode(bytes, NetRxMode.Promiscuous, false);
        pair.Memory.Write(SplitPair.Data(0), bytes.AsSpan(0, n));
        pair.AddAndPublish(7, BufferSegment.Readable(SplitPair.Data(0), (uint)n));

        Assert.Equal(PopStatus.Popped, pair.Device.TryPopAvailable(out DescriptorChain chain));
        ControlResult r = handler.Handle(chain);
        Assert.Equal(NetControlError.NoWritableByte, r.Error);
        pair.Device.PushUsed(chain, r.WrittenLength);
        pair.Device.PublishUsed();
        Assert.Equal(0u, pair.Reclaim().WrittenLength);
        Assert.Same(before, handler.State);
    }

    [Fact]
    public void MacTable_LargerThanGatherBuffer_IsReadPiecewiseAndOverflows()
    {
        using var pair = new SplitPair(8, VirtqueueFeatures.None);
        NetControlHandler handler = ControlRig.Handler(macEntries: 2);
        var unicast = new MacAddress[300];
        for (int i = 0; i < unicast.Length; i++)
        {
            unicast[i] = new MacAddress(0x0200_0000_0000UL + (ulong)i);
        }

        MacAddress group = MacAddress.Parse("01:00:5e:00:00:07");
        Assert.True(NetControlEncoder.GetMacTableLength(300, 1) > handler.MaxCommandLength);
        Assert.Equal(ControlAck.Ok, Send(pair, handler, 0, b => NetControlEncoder.WriteMacTable(b, unicast, new[] { group })).Ack);
        Assert.True(handler.State.UnicastFilter.IsOverflow);
        Assert.Equal(new[] { group }, handler.State.MulticastFilter);

        // One byte short: the counts no longer match the length.
        NetControlState before = handler.State;
        Assert.Equal(ControlAck.Err, Send(pair, handler, 1, b => NetControlEncoder.WriteMacTable(b, unicast, new[] { group }) - 1).Ack);
        Assert.Same(before, handler.State);
    }

    [Fact]
    public void OversizedOtherCommand_IsRefusedAsTooLarge()
    {
        using var pair = new SplitPair(8, VirtqueueFeatures.None);
        NetControlHandler handler = ControlRig.Handler();
        NetControlState before = handler.State;
        Assert.Equal(ControlAck.Err, Send(pair, handler, 0, b =>
        {
            NetControlEncoder.WriteQueuePairs(b, 1);
            return handler.MaxCommandLength + 1;
        }).Ack);
        Assert.Same(before, handler.State);
    }
}
