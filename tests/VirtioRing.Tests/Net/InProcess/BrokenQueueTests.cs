using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using VirtioRing.Net;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Engine;
using VirtioRing.Queues;
using Xunit;

namespace VirtioRing.Tests.Net.InProcess;

/// <summary>How the test breaks a guest's transmit ring through its guest memory.</summary>
public enum RingCorruption
{
    /// <summary>Every descriptor of the ring points outside guest memory (a frame is waiting in it).</summary>
    DescriptorOutsideMemory,

    /// <summary>The split ring's available index jumps more than the ring size ahead (virtio §2.7.13.3 DoS guard).</summary>
    AvailableIndexJump,
}

/// <summary>
/// The engine under a broken queue (issue 4: "the engine under a broken queue keeps the other queues running"): one
/// guest's transmit ring is corrupted through its guest memory; that queue stops alone (<c>QueueBroken</c> raised,
/// <c>NeedsReset</c> set, counted), while the guest's other pair and the other guests keep passing traffic both ways.
/// </summary>
public class BrokenQueueTests
{
    private const int A = 0;      // the guest whose transmit queue of pair 1 breaks
    private const int B = 1;
    private const int C = 2;
    private const int BrokenTx = 3;   // transmitq of pair 1

    [Theory]
    [InlineData(false, RingCorruption.DescriptorOutsideMemory)]
    [InlineData(true, RingCorruption.DescriptorOutsideMemory)]
    [InlineData(false, RingCorruption.AvailableIndexJump)]
    public void CorruptTransmitRing_OnlyThatQueueBreaks_OtherPairAndGuestsKeepPassingTraffic(bool packed, RingCorruption corruption)
    {
        using var lan = new GuestLan(3, i => GuestLan.Options(i, packed, pairs: i == C ? 1 : 2));
        var faults = new System.Collections.Concurrent.ConcurrentQueue<NetQueueFaultEventArgs>();
        using var raised = new System.Threading.ManualResetEventSlim();
        lan[A].Device.QueueBroken += (_, e) =>
        {
            faults.Enqueue(e);
            raised.Set();
        };
        Learn(lan);
        int seq = 0;

        // Before: A's pair 1 works.
        Exchange(lan, [(A, 1, B)], ref seq);

        Corrupt(lan, corruption, ref seq);
        lan.PollPair(A, 1);

        // The event is raised on the thread pool (never on a worker or under a device lock).
        Assert.True(raised.Wait(TimeSpan.FromSeconds(30)), "QueueBroken was not raised");
        NetQueueFaultEventArgs fault = Assert.Single(faults);
        Assert.Equal(BrokenTx, fault.QueueIndex);
        Assert.NotEqual(VirtqueueFault.None, fault.Fault);
        Assert.True(lan[A].Device.NeedsReset);
        Assert.Equal(1, lan[A].Device.GetCounters(BrokenTx).BrokenQueue);
        for (int q = 0; q <= lan[A].Device.ControlQueueIndex; q++)
        {
            Assert.Equal(q == BrokenTx ? 1 : 0, lan[A].Device.GetCounters(q).BrokenQueue);
        }

        for (int g = B; g <= C; g++)
        {
            Assert.False(lan[g].Device.NeedsReset);
        }

        Assert.Empty(lan.Drain(B));      // the frame in the broken ring went nowhere
        Assert.Empty(lan.Drain(C));

        // After: A's pair 0 still sends, A still receives, B and C talk to each other and to A on all their pairs.
        Exchange(lan,
        [
            (A, 0, B), (A, 0, C), (B, 0, A), (B, 1, A), (C, 0, A), (B, 0, C), (B, 1, C), (C, 0, B),
        ], ref seq);

        // More polls of the broken pair do nothing (and throw nothing); faults are not raised twice.
        Assert.Equal(0, lan.PollPair(A, 1));
        Assert.Single(faults);
        Assert.Equal(0, lan[A].Device.GetCounters(1).BrokenQueue);
    }

    /// <summary>Sends frames (sender, pair, receiver) in rounds, switches them, and checks each arrives once, byte for byte, at its receiver only.</summary>
    private static void Exchange(GuestLan lan, (int From, int Pair, int To)[] flows, ref int seq)
    {
        var expected = new Dictionary<int, (int To, byte[] Frame)>();
        for (int round = 0; round < 20; round++)
        {
            foreach ((int from, int pair, int to) in flows)
            {
                byte[] f = TestFrames.Build(GuestLan.HomeMac(to), GuestLan.HomeMac(from), 60 + (seq * 29 % 1400), seq);
                Assert.True(lan[from].Driver.TrySend(pair, f, default), $"g{from} pair {pair}: send failed");
                expected[seq++] = (to, f);
            }

            lan.PollAll();
        }

        for (int g = 0; g < lan.Guests.Length; g++)
        {
            foreach (ReceivedFrame r in lan.Drain(g))
            {
                int s = TestFrames.SequenceOf(r.Bytes);
                Assert.True(expected.Remove(s, out var e), $"guest {g}: unexpected or duplicate frame {s}");
                Assert.Equal(e.To, g);
                Assert.True(e.Frame.AsSpan().SequenceEqual(r.Bytes));
            }
        }

        Assert.True(expected.Count == 0, $"{expected.Count} frame(s) lost");
    }

    private static void Corrupt(GuestLan lan, RingCorruption corruption, ref int seq)
    {
        NetRing ring = lan[A].Rings[BrokenTx];
        if (corruption == RingCorruption.AvailableIndexJump)
        {
            Assert.False(ring.IsPacked);
            Span<byte> idx = lan[A].Memory.GetSpan(ring.SplitLayout.AvailableRing.Add(2), 2);
            BinaryPrimitives.WriteUInt16LittleEndian(idx, (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(idx) + ring.Size + 1));
            return;
        }

        // A frame is waiting in the ring; then every descriptor's address is pointed past guest memory.
        byte[] f = TestFrames.Build(GuestLan.HomeMac(B), GuestLan.HomeMac(A), 100, seq++);
        Assert.True(lan[A].Driver.TrySend(1, f, default));
        Span<byte> table = lan[A].Memory.GetSpan(ring.DescriptorArea, (ulong)(16 * ring.Size));
        for (int d = 0; d < ring.Size; d++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(table.Slice(16 * d), 0x7FFF_DEAD_0000UL);
        }
    }

    private static void Learn(GuestLan lan)
    {
        for (int g = 0; g < lan.Guests.Length; g++)
        {
            Assert.True(lan[g].Driver.TrySend(0, TestFrames.Build(MacAddress.Broadcast, GuestLan.HomeMac(g), 60, -1), default));
            lan.PollAll();
        }

        for (int g = 0; g < lan.Guests.Length; g++)
        {
            Assert.Equal(lan.Guests.Length - 1, lan.Drain(g).Count);
        }
    }
}
