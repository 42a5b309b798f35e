using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Threading;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Switching;
using Xunit;

namespace VirtioRing.Tests.Net.InProcess;

/// <summary>
/// The per-port filter hook with real guests (issue 4: "the host can firewall guest-to-guest traffic"): frames a filter
/// drops are counted on the filter's port and never reach a guest; every other frame arrives unchanged.
/// </summary>
public class PortFilterTests
{
    private const ushort Allowed = 0x88B5;
    private const ushort BlockedFromA = 0x88B6;   // A's ingress filter drops these
    private const ushort BlockedToC = 0x88B7;     // C's egress filter drops these

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Filters_DropOneEtherTypeEach_DroppedFramesCountedAndNeverDelivered(bool packed)
    {
        using var lan = new GuestLan(3, i => GuestLan.Options(i, packed, pairs: 2));
        Learn(lan);
        var ingressA = new EtherTypeFilter(BlockedFromA);
        var egressC = new EtherTypeFilter(BlockedToC);
        lan.Ports[0].IngressFilter = ingressA;
        lan.Ports[2].EgressFilter = egressC;

        ushort[] types = [Allowed, BlockedFromA, BlockedToC];
        var expected = new Dictionary<int, (HashSet<int> To, byte[] Frame)>();
        long droppedOnA = 0, droppedOnC = 0;
        int seq = 0;
        for (int round = 0; round < 30; round++)
        {
            for (int from = 0; from < 3; from++)
            {
                foreach (ushort type in types)
                {
                    // Alternate broadcast and unicast to the next guest, tagged now and then.
                    bool broadcast = (seq & 1) == 0;
                    int next = (from + 1) % 3;
                    MacAddress dst = broadcast ? MacAddress.Broadcast : GuestLan.HomeMac(next);
                    byte[] f = TestFrames.Build(dst, GuestLan.HomeMac(from), 64 + (seq * 7 % 1400), seq, seq % 5 == 0 ? 42 : -1, type);
                    var to = new HashSet<int>();
                    foreach (int r in broadcast ? new[] { (from + 1) % 3, (from + 2) % 3 } : new[] { next })
                    {
                        if (from == 0 && type == BlockedFromA)
                        {
                            droppedOnA++;                // inspected and dropped once per destination
                        }
                        else if (r == 2 && type == BlockedToC)
                        {
                            droppedOnC++;
                        }
                        else
                        {
                            to.Add(r);
                        }
                    }

                    expected[seq++] = (to, f);
                    Assert.True(lan[from].Driver.TrySend(f, default));
                }

                lan.PollAll();
            }

            for (int g = 0; g < 3; g++)
            {
                foreach (ReceivedFrame r in lan.Drain(g))
                {
                    int s = TestFrames.SequenceOf(r.Bytes);
                    Assert.True(expected.TryGetValue(s, out var e) && e.To.Remove(g), $"guest {g} got frame {s}, which it must not (or twice)");
                    Assert.True(e.Frame.AsSpan().SequenceEqual(r.Bytes));
                }
            }
        }

        foreach (var kv in expected)
        {
            Assert.True(kv.Value.To.Count == 0, $"frame {kv.Key} did not reach guest(s) {string.Join(",", kv.Value.To)}");
        }

        Assert.True(droppedOnA > 0 && droppedOnC > 0);
        Assert.Equal(droppedOnA, lan.Ports[0].GetCounters().DroppedFiltered);
        Assert.Equal(0, lan.Ports[1].GetCounters().DroppedFiltered);
        Assert.Equal(droppedOnC, lan.Ports[2].GetCounters().DroppedFiltered);
        Assert.Equal(droppedOnA, ingressA.Dropped);
        Assert.Equal(droppedOnC, egressC.Dropped);

        // Removing the filters lets the same kinds of frames through again.
        lan.Ports[0].IngressFilter = null;
        lan.Ports[2].EgressFilter = null;
        Assert.True(lan[0].Driver.TrySend(TestFrames.Build(GuestLan.HomeMac(2), GuestLan.HomeMac(0), 80, seq, -1, BlockedToC), default));
        Assert.True(lan[0].Driver.TrySend(TestFrames.Build(GuestLan.HomeMac(1), GuestLan.HomeMac(0), 80, seq + 1, -1, BlockedFromA), default));
        lan.PollAll();
        Assert.Equal(seq, TestFrames.SequenceOf(Assert.Single(lan.Drain(2)).Bytes));
        Assert.Equal(seq + 1, TestFrames.SequenceOf(Assert.Single(lan.Drain(1)).Bytes));
    }

    private static void Learn(GuestLan lan)
    {
        for (int g = 0; g < lan.Guests.Length; g++)
        {
            Assert.True(lan[g].Driver.TrySend(TestFrames.Build(MacAddress.Broadcast, GuestLan.HomeMac(g), 60, -1), default));
            lan.PollAll();
        }

        for (int g = 0; g < lan.Guests.Length; g++)
        {
            lan.Drain(g);
        }
    }

    /// <summary>Drops frames of one EtherType (behind one 802.1Q tag, too).</summary>
    private sealed class EtherTypeFilter(ushort etherType) : INetSwitchFilter
    {
        private long _dropped;

        public long Dropped => Interlocked.Read(ref _dropped);

        public NetSwitchFilterVerdict Inspect(in NetFrame frame, NetSwitchPort source, NetSwitchPort destination)
        {
            Span<byte> scratch = stackalloc byte[18];
            ReadOnlySpan<byte> head = frame.Peek(18, scratch);
            if (head.Length < 14)
            {
                return NetSwitchFilterVerdict.Accept;
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(head.Slice(12));
            if (type == 0x8100 && head.Length >= 18)
            {
                type = BinaryPrimitives.ReadUInt16BigEndian(head.Slice(16));
            }

            if (type != etherType)
            {
                return NetSwitchFilterVerdict.Accept;
            }

            Interlocked.Increment(ref _dropped);
            return NetSwitchFilterVerdict.Drop;
        }
    }
}
