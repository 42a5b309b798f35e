using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Net;
using VirtioRing.Net.Switching;
using Xunit;

namespace VirtioRing.Tests.Net.InProcess;

/// <summary>Where a generated frame is addressed.</summary>
public enum LanDestination
{
    /// <summary>Another guest's own MAC (known once that guest sent, else unknown).</summary>
    Peer,

    /// <summary>ff:ff:ff:ff:ff:ff.</summary>
    Broadcast,

    /// <summary>A group address (IPv4 or IPv6 multicast).</summary>
    Multicast,

    /// <summary>A unicast address nobody ever sends from.</summary>
    Unknown,

    /// <summary>One of a few roaming addresses that guests also send from (known on whichever port used it last).</summary>
    Roaming,

    /// <summary>The sender's own MAC.</summary>
    Self,
}

/// <summary>Which source address a generated frame carries.</summary>
public enum LanSource
{
    /// <summary>The sender's own MAC.</summary>
    Home,

    /// <summary>A roaming address (moves to the sender's port).</summary>
    Roaming,

    /// <summary>Another guest's own MAC (that MAC moves to the sender's port).</summary>
    Spoofed,
}

/// <summary>One frame of a scenario: who sends it, to what, from what source, how long, tagged or not; and whether the receivers drain afterwards.</summary>
public sealed record LanOp(int Sender, LanDestination Destination, int DestinationIndex, LanSource Source, int SourceIndex, int Length, int Vlan, bool Drain)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"g{Sender}:{Source}{SourceIndex}->{Destination}{DestinationIndex} len={Length}{(Vlan >= 0 ? " vlan" + Vlan : "")}{(Drain ? " drain" : "")}");
}

/// <summary>A LAN (guest count, ring layout, pairs per guest) and the frames sent on it.</summary>
public sealed record LanScenario(int Guests, bool Packed, int Pairs, LanOp[] Ops)
{
    public override string ToString() => $"{Guests} guests, {(Packed ? "packed" : "split")}, {Pairs} pair(s): " + string.Join("; ", Ops.Select(o => o.ToString()));
}

/// <summary>
/// End-to-end properties of issue 4 with real in-process guests (driver → rings → <c>NetDevice</c> → <c>NetSwitch</c> →
/// peer <c>NetDevice</c> → rings → driver), driven deterministically (<c>NetWorkerMode.Manual</c>).
/// </summary>
public class SwitchedLanProperties
{
    private const int QueueSize = 64;       // ≥ the most frames a receiver can have waiting (Ops ≤ 48)

    private static Gen<LanOp> Op() =>
        from sender in Gen.Choose(0, 4)
        from dst in Gen.Frequency(
            (6, Gen.Constant(LanDestination.Peer)),
            (2, Gen.Constant(LanDestination.Broadcast)),
            (2, Gen.Constant(LanDestination.Multicast)),
            (2, Gen.Constant(LanDestination.Unknown)),
            (3, Gen.Constant(LanDestination.Roaming)),
            (1, Gen.Constant(LanDestination.Self)))
        from dstIndex in Gen.Choose(0, 4)
        from src in Gen.Frequency((8, Gen.Constant(LanSource.Home)), (2, Gen.Constant(LanSource.Roaming)), (1, Gen.Constant(LanSource.Spoofed)))
        from srcIndex in Gen.Choose(0, 4)
        from length in Gen.Frequency((3, Gen.Choose(60, 128)), (2, Gen.Choose(129, 1513)), (1, Gen.Constant(1514)))
        from vlan in Gen.Frequency((4, Gen.Constant(-1)), (1, Gen.Choose(1, 4094)))
        from drain in Gen.Frequency((1, Gen.Constant(true)), (3, Gen.Constant(false)))
        select new LanOp(sender, dst, dstIndex, src, srcIndex, length, vlan, drain);

    private static Arbitrary<LanScenario> Scenarios() => Arb.From(
        from guests in Gen.Choose(2, 5)
        from packed in Gen.Elements(false, true)
        from pairs in Gen.Choose(1, 2)
        from count in Gen.Choose(1, 48)
        from ops in Gen.ArrayOf(Op(), count)
        select new LanScenario(guests, packed, pairs, ops));

    /// <summary>
    /// Any sequence of frames sent by any guests arrives exactly at the ports the switch rules say — learn the source on
    /// the sender's port (a move is learned at once), known unicast to its port only (dropped when that is the sender's),
    /// broadcast / multicast / unknown unicast to every other port — byte for byte, none lost, none duplicated; and the
    /// switch's per-port counters agree with the reference model.
    /// </summary>
    [Property(MaxTest = 400)]
    public Property Send_AnyFrameSequence_ArrivesExactlyWhereTheModelSays() => Prop.ForAll(Scenarios(), Run);

    /// <summary>MAC moves, spelled out: a guest sending with another guest's address takes that address over; frames to it then go to the new port only, and back when the owner speaks again.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Send_SourceMacMovesBetweenPorts_FramesFollowTheMove(bool packed)
    {
        Run(new LanScenario(3, packed, 1,
        [
            new LanOp(0, LanDestination.Broadcast, 0, LanSource.Home, 0, 60, -1, true),       // g0's MAC learned on port 0
            new LanOp(1, LanDestination.Peer, 0, LanSource.Home, 0, 100, -1, true),           // g1 → g0: port 0 only
            new LanOp(2, LanDestination.Broadcast, 0, LanSource.Spoofed, 0, 60, -1, true),    // g2 claims g0's MAC
            new LanOp(1, LanDestination.Peer, 0, LanSource.Home, 0, 200, -1, true),           // g1 → "g0": now port 2 only
            new LanOp(0, LanDestination.Peer, 1, LanSource.Home, 0, 300, 7, true),            // g0 speaks again
            new LanOp(1, LanDestination.Peer, 0, LanSource.Home, 0, 1514, -1, true),          // g1 → g0: port 0 again
            new LanOp(2, LanDestination.Self, 0, LanSource.Home, 0, 64, -1, true),            // own MAC: nowhere
        ]));
    }

    private static bool Run(LanScenario s)
    {
        using var lan = new GuestLan(s.Guests, i => GuestLan.Options(i, s.Packed, s.Pairs, QueueSize));
        var table = new Dictionary<MacAddress, int>();                    // reference model: address → port
        var expected = new Dictionary<int, (byte[] Frame, HashSet<int> To)>();
        var received = new List<ReceivedFrame>[s.Guests];
        var noRoute = new int[s.Guests];
        var forwarded = new int[s.Guests];
        for (int g = 0; g < s.Guests; g++)
        {
            received[g] = [];
        }

        for (int seq = 0; seq < s.Ops.Length; seq++)
        {
            LanOp op = s.Ops[seq];
            int sender = op.Sender % s.Guests;
            MacAddress source = op.Source switch
            {
                LanSource.Roaming => Roaming(op.SourceIndex),
                LanSource.Spoofed => GuestLan.HomeMac(Other(sender, op.SourceIndex, s.Guests)),
                _ => GuestLan.HomeMac(sender),
            };
            MacAddress destination = op.Destination switch
            {
                LanDestination.Peer => GuestLan.HomeMac(Other(sender, op.DestinationIndex, s.Guests)),
                LanDestination.Broadcast => MacAddress.Broadcast,
                LanDestination.Multicast => op.DestinationIndex % 2 == 0 ? new MacAddress(0x0100_5E00_0001UL + (ulong)op.DestinationIndex) : new MacAddress(0x3333_0000_0010UL),
                LanDestination.Unknown => new MacAddress(0x0200_00FF_0000UL + (ulong)op.DestinationIndex),
                LanDestination.Roaming => Roaming(op.DestinationIndex),
                _ => GuestLan.HomeMac(sender),
            };

            // The model: learn the source on the sender's port, then decide.
            table[source] = sender;
            var to = new HashSet<int>();
            if (!destination.IsMulticast && table.TryGetValue(destination, out int owner))
            {
                if (owner == sender)
                {
                    noRoute[sender]++;
                }
                else
                {
                    to.Add(owner);
                }
            }
            else
            {
                to.UnionWith(Enumerable.Range(0, s.Guests).Where(g => g != sender));
            }

            foreach (int g in to)
            {
                forwarded[g]++;
            }

            byte[] frame = TestFrames.Build(destination, source, op.Length, seq, op.Vlan);
            expected[seq] = (frame, to);
            Assert.True(lan[sender].Driver.TrySend(frame, default), $"op {seq}: the sender's queue is full");

            // Switch this frame now (and only this one), so the switch learns in the model's order.
            for (int p = 0; p < s.Pairs; p++)
            {
                lan.PollPair(sender, p);
                Assert.False(lan[sender].Device.GetPair(p).HasHeldChain, $"op {seq}: a chain is held although every receiver has room");
            }

            if (op.Drain)
            {
                for (int g = 0; g < s.Guests; g++)
                {
                    lan.Drain(g, received[g]);
                }
            }
        }

        lan.PollAll();
        for (int g = 0; g < s.Guests; g++)
        {
            lan.Drain(g, received[g]);
        }

        for (int g = 0; g < s.Guests; g++)
        {
            var seen = new HashSet<int>();
            foreach (ReceivedFrame f in received[g])
            {
                int seq = TestFrames.SequenceOf(f.Bytes);
                Assert.True(expected.TryGetValue(seq, out var e), $"guest {g} received a frame that was never sent (seq {seq})");
                Assert.True(e.To.Contains(g), $"guest {g} received frame {seq} ({s.Ops[seq]}) that the model sends to [{string.Join(",", e.To)}]");
                Assert.True(seen.Add(seq), $"guest {g} received frame {seq} twice");
                Assert.True(e.Frame.AsSpan().SequenceEqual(f.Bytes), $"guest {g}: frame {seq} differs");
            }

            int missing = expected.Count(kv => kv.Value.To.Contains(g) && !seen.Contains(kv.Key));
            Assert.True(missing == 0, $"guest {g} is missing {missing} frame(s)");

            NetSwitchPortCounters c = lan.Ports[g].GetCounters();
            Assert.Equal(s.Ops.Count(o => o.Sender % s.Guests == g), c.ReceivedFrames);
            Assert.Equal(forwarded[g], c.ForwardedFrames);
            Assert.Equal(noRoute[g], c.DroppedNoRoute);
            Assert.Equal(0, c.DroppedNoBuffers + c.DroppedQueueDown + c.DroppedBadFrame + c.DroppedFiltered);
        }

        return true;
    }

    private static MacAddress Roaming(int k) => new(0x02AA_0000_0000UL + (ulong)(k % 3));

    /// <summary>A guest other than <paramref name="sender"/>, picked by <paramref name="k"/>.</summary>
    private static int Other(int sender, int k, int guests) => (sender + 1 + (k % (guests - 1))) % guests;
}
