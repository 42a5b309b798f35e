using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using Xunit;

namespace VirtioRing.Tests.Net.InProcess;

/// <summary>What one step of a queue-pair scenario does.</summary>
public enum PairStep
{
    /// <summary>The guest sends Count frames of one flow to the other guest (stops at a full queue).</summary>
    Send,

    /// <summary>One device round on one pair with budget Count.</summary>
    Poll,

    /// <summary>The guest's driver receives up to Count frames on one pair.</summary>
    Receive,

    /// <summary>The guest's driver sends <c>VQ_PAIRS_SET</c> Count (1 or 2) through the control queue.</summary>
    SetPairs,
}

/// <summary>One step: kind, guest, pair or flow, count.</summary>
public sealed record PairOp(PairStep Step, int Guest, int Index, int Count)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Step} g{Guest} #{Index} x{Count}");
}

/// <summary>
/// Queue pairs changed mid-traffic (issue 4: "queue pairs changed mid-traffic lose nothing"): two real guests with two
/// pairs each send flows both ways while their drivers switch <c>VQ_PAIRS_SET</c> 2 → 1 → 2 through the control queue, with
/// frames in transmit rings, held by flow control, and waiting in receive rings of the pair that goes away. Every frame of
/// every flow arrives exactly once, byte for byte.
/// </summary>
public class QueuePairChangeTests
{
    private const int Flows = 6;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SetQueuePairs_TwoToOneToTwoWithFramesInFlight_NothingLostOrDuplicated(bool packed)
    {
        using var lan = new GuestLan(2, i => GuestLan.Options(i, packed, pairs: 2));
        var flows = new FlowLedger(2);
        Learn(lan);

        // Burst 1 on two pairs; the devices take only a little of it, the receivers drain only pair 0.
        for (int g = 0; g < 2; g++)
        {
            for (int f = 0; f < Flows; f++)
            {
                flows.Send(lan, g, f, 20);
            }
        }

        for (int g = 0; g < 2; g++)
        {
            lan[g].Device.GetPair(0).Poll(8);
            lan[g].Device.GetPair(1).Poll(8);
        }

        for (int g = 0; g < 2; g++)
        {
            flows.Receive(lan, g, pair: 0, max: int.MaxValue);
            Assert.True(lan[g].Driver.GetTransmitOutstanding(1) > 0, $"frames should still wait in the transmit ring of pair 1: {lan[g].Driver.GetTransmitOutstanding(0)} {lan[g].Driver.GetTransmitOutstanding(1)} {lan[g].Device.GetCounters(1)} {lan[g].Device.GetCounters(3)}");
        }

        Assert.True(Waiting(lan, 0, 1) + Waiting(lan, 1, 1) > 0, "frames should wait in a receive ring of pair 1");

        // 2 → 1 while all of that is in flight, then burst 2 (on pair 0 only).
        for (int g = 0; g < 2; g++)
        {
            Assert.Equal(ControlAck.Ok, lan[g].Driver.SetQueuePairs(1));
            Assert.Equal(1, lan[g].Device.ActivePairs);
            Assert.False(lan[g].Device.GetPair(1).IsActive);
        }

        for (int g = 0; g < 2; g++)
        {
            for (int f = 0; f < Flows; f++)
            {
                flows.Send(lan, g, f, 10);
            }
        }

        lan.PollAll();
        for (int g = 0; g < 2; g++)
        {
            flows.Receive(lan, g, pair: 0, max: int.MaxValue);
            flows.Receive(lan, g, pair: 1, max: int.MaxValue);   // what pair 1 had pushed before it stopped
            Assert.True(lan[g].Driver.GetTransmitOutstanding(1) > 0, "an inactive pair's transmit ring must keep its frames");
        }

        // 1 → 2: pair 1's transmit ring resumes; burst 3 on both pairs.
        for (int g = 0; g < 2; g++)
        {
            Assert.Equal(ControlAck.Ok, lan[g].Driver.SetQueuePairs(2));
            Assert.Equal(2, lan[g].Device.ActivePairs);
        }

        for (int g = 0; g < 2; g++)
        {
            for (int f = 0; f < Flows; f++)
            {
                flows.Send(lan, g, f, 10);
            }
        }

        Settle(lan, flows);
        flows.AssertComplete();
    }

    /// <summary>
    /// Regression: <c>NetDevice.Deliver</c> steered a frame to a pair before taking that queue's lock; when a pair change on
    /// another thread stopped the pair in between, the frame was answered <c>QueueDown</c> and the switch dropped it (a few
    /// hundred of 100 000 frames), even in lossless mode. Here the host flips the receiver's pairs (<c>SetActivePairs</c>,
    /// the switch's dynamic API) on another thread while frames of eight flows pour in; none may be lost.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Deliver_PairsFlippedConcurrently_NoFrameAnsweredQueueDown(bool packed)
    {
        using var lan = new GuestLan(2, i => GuestLan.Options(i, packed, pairs: 2));
        Learn(lan);
        var flows = new FlowLedger(2);
        bool stop = false;
        int flips = 0;
        var flipper = new System.Threading.Thread(() =>
        {
            while (!System.Threading.Volatile.Read(ref stop))
            {
                lan[1].Device.SetActivePairs(1);
                lan[1].Device.SetActivePairs(2);
                flips++;
            }
        });
        flipper.Start();
        try
        {
            for (int round = 0; round < 8000; round++)
            {
                for (int f = 0; f < 8; f++)
                {
                    flows.Send(lan, 0, f, 1, pair: 0);
                }

                lan[0].Device.GetPair(0).Poll(64);
                flows.Receive(lan, 1, 0, int.MaxValue);
                flows.Receive(lan, 1, 1, int.MaxValue);
            }
        }
        finally
        {
            System.Threading.Volatile.Write(ref stop, true);
            flipper.Join();
        }

        lan[1].Device.SetActivePairs(2);
        Settle(lan, flows);
        Assert.True(flips > 0);
        Assert.True(lan.Ports[1].GetCounters().DroppedQueueDown == 0, $"{lan.Ports[1].GetCounters()}; rx0 {lan[1].Device.GetCounters(0)}; rx1 {lan[1].Device.GetCounters(2)}; flips {flips}");
        flows.AssertComplete();
    }

    /// <summary>Random interleavings of sends, device rounds, partial receives and <c>VQ_PAIRS_SET</c> on small rings (so flow control holds chains too).</summary>
    [Property(MaxTest = 100)]
    public Property AnyInterleavingOfPairChanges_LosesAndDuplicatesNothing() => Prop.ForAll(Scenarios(), s =>
    {
        using var lan = new GuestLan(2, i => GuestLan.Options(i, s.Packed, pairs: 2, queueSize: 32));
        var flows = new FlowLedger(2);
        Learn(lan);
        foreach (PairOp op in s.Ops)
        {
            switch (op.Step)
            {
                case PairStep.Send:
                    flows.Send(lan, op.Guest, op.Index % Flows, op.Count);
                    break;
                case PairStep.Poll:
                    lan[op.Guest].Device.GetPair(op.Index).Poll(op.Count);
                    break;
                case PairStep.Receive:
                    flows.Receive(lan, op.Guest, op.Index, op.Count);
                    break;
                default:
                    Assert.Equal(ControlAck.Ok, lan[op.Guest].Driver.SetQueuePairs(op.Count));
                    break;
            }
        }

        for (int g = 0; g < 2; g++)
        {
            Assert.Equal(ControlAck.Ok, lan[g].Driver.SetQueuePairs(2));
        }

        Settle(lan, flows);
        flows.AssertComplete();
        return true;
    });

    private static Arbitrary<(bool Packed, PairOp[] Ops)> Scenarios() => Arb.From(
        from packed in Gen.Elements(false, true)
        from count in Gen.Choose(10, 120)
        from ops in Gen.ArrayOf(
            from step in Gen.Frequency(
                (6, Gen.Constant(PairStep.Send)),
                (5, Gen.Constant(PairStep.Poll)),
                (2, Gen.Constant(PairStep.Receive)),
                (2, Gen.Constant(PairStep.SetPairs)))
            from guest in Gen.Choose(0, 1)
            from index in step == PairStep.Send ? Gen.Choose(0, Flows - 1) : Gen.Choose(0, 1)
            from n in step == PairStep.SetPairs ? Gen.Choose(1, 2) : Gen.Choose(1, 24)
            select new PairOp(step, guest, index, n), count)
        select (packed, ops));

    /// <summary>Frames the device delivered on a pair that the driver has not received yet.</summary>
    private static long Waiting(GuestLan lan, int guest, int pair) =>
        lan[guest].Device.GetCounters(2 * pair).Packets - (long)lan[guest].Driver.GetCounters(2 * pair).Packets;

    /// <summary>Each guest broadcasts once so the switch knows both addresses (unicast then goes to one port only).</summary>
    private static void Learn(GuestLan lan)
    {
        for (int g = 0; g < lan.Guests.Length; g++)
        {
            Assert.True(lan[g].Driver.TrySend(TestFrames.Build(MacAddress.Broadcast, GuestLan.HomeMac(g), 60, -1), default));
            lan.PollAll();
        }

        for (int g = 0; g < lan.Guests.Length; g++)
        {
            Assert.Equal(lan.Guests.Length - 1, lan.Drain(g).Count);
        }
    }

    /// <summary>Polls and drains until nothing moves: every frame still in a ring or held is delivered.</summary>
    private static void Settle(GuestLan lan, FlowLedger flows)
    {
        for (int sweep = 0; sweep < 1000; sweep++)
        {
            int moved = lan.PollAll();
            for (int g = 0; g < lan.Guests.Length; g++)
            {
                for (int p = 0; p < 2; p++)
                {
                    moved += flows.Receive(lan, g, p, int.MaxValue);
                }
            }

            if (moved == 0)
            {
                return;
            }
        }

        Assert.Fail("the LAN did not settle");
    }
}

/// <summary>What each guest sent per flow, and what each received: exactly once, byte for byte.</summary>
internal sealed class FlowLedger(int guests)
{
    private readonly int[,] _sent = new int[guests, 256];
    private readonly HashSet<int>[,] _received = NewSets(guests);
    private readonly byte[] _buffer = new byte[2048];

    public int Sent(int guest, int flow) => _sent[guest, flow];

    /// <summary>Sends up to <paramref name="count"/> frames of a flow from one guest to the next one; stops at a full queue.</summary>
    public int Send(GuestLan lan, int guest, int flow, int count, int pair = -1)
    {
        int peer = (guest + 1) % lan.Guests.Length;
        int sent = 0;
        for (int i = 0; i < count; i++)
        {
            byte[] frame = FlowFrames.Build(GuestLan.HomeMac(peer), GuestLan.HomeMac(guest), guest, peer, flow, _sent[guest, flow]);
            if (!(pair < 0 ? lan[guest].Driver.TrySend(frame, default) : lan[guest].Driver.TrySend(pair, frame, default)))
            {
                break;
            }

            _sent[guest, flow]++;
            sent++;
        }

        return sent;
    }

    /// <summary>Receives up to <paramref name="max"/> frames on one pair of one guest and checks each.</summary>
    public int Receive(GuestLan lan, int guest, int pair, int max)
    {
        int n = 0;
        while (n < max && lan[guest].Driver.TryReceive(pair, _buffer, out _, out int length))
        {
            Record(guest, _buffer.AsSpan(0, length));
            n++;
        }

        return n;
    }

    /// <summary>Checks and counts one received frame.</summary>
    public void Record(int receiver, ReadOnlySpan<byte> frame)
    {
        Assert.True(FlowFrames.TryParse(frame, out int sender, out int flow, out int seq), $"guest {receiver} received a frame that is not a flow frame");
        Assert.True(seq < _sent[sender, flow], $"guest {receiver} received flow {sender}/{flow} seq {seq}, never sent");
        byte[] expected = FlowFrames.Build(GuestLan.HomeMac(receiver), GuestLan.HomeMac(sender), sender, receiver, flow, seq);
        Assert.True(expected.AsSpan().SequenceEqual(frame), $"flow {sender}/{flow} seq {seq} differs");
        Assert.True(_received[sender, flow].Add(seq), $"flow {sender}/{flow} seq {seq} received twice");
    }

    public void AssertComplete()
    {
        for (int g = 0; g < _sent.GetLength(0); g++)
        {
            for (int f = 0; f < 256; f++)
            {
                Assert.True(_received[g, f].Count == _sent[g, f],
                    $"flow {g}/{f}: sent {_sent[g, f]}, received {_received[g, f].Count}; missing {string.Join(",", Enumerable.Range(0, _sent[g, f]).Where(s => !_received[g, f].Contains(s)).Take(10))}");
            }
        }
    }

    private static HashSet<int>[,] NewSets(int guests)
    {
        var sets = new HashSet<int>[guests, 256];
        for (int g = 0; g < guests; g++)
        {
            for (int f = 0; f < 256; f++)
            {
                sets[g, f] = [];
            }
        }

        return sets;
    }
}
