using System;
using System.Threading;
using VirtioRing.Net;
using VirtioRing.Net.Engine;
using Xunit;

namespace VirtioRing.Tests.Net.InProcess;

/// <summary>
/// All-to-all with threads everywhere (issue 4's sample pattern, bounded): four guests with two queue pairs each, device
/// workers in <see cref="NetWorkerMode.Blocking"/>, one sender and one receiver thread per guest. Every frame is checked
/// byte for byte and counted once per flow; no timing is asserted, only a generous deadline against hangs.
/// </summary>
public class AllToAllThreadTests
{
    private const int Guests = 4;
    private const int FramesPerGuest = 2000;
    private const int FlowsPerPeer = 4;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AllToAll_FourGuestsTwoPairsWorkerThreads_EveryFrameArrivesOnceAndIntact(bool packed) => AllToAll(packed, flipPairs: false);

    /// <summary>The same while a thread per guest keeps switching <c>VQ_PAIRS_SET</c> 2 → 1 → 2 through the control queue.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AllToAll_PairsFlippedWhileWorkerThreadsRun_EveryFrameArrivesOnceAndIntact(bool packed) => AllToAll(packed, flipPairs: true);

    private static void AllToAll(bool packed, bool flipPairs)
    {
        using var lan = new GuestLan(Guests, i => GuestLan.Options(i, packed, pairs: 2, mode: NetWorkerMode.Blocking));
        DateTime end = DateTime.UtcNow + Deadline;
        Learn(lan, end);

        // sent[s, flow] is final before the receivers are checked; received[s, flow, seq] is set once by the one receiver of that flow.
        var sent = new int[Guests, Guests * FlowsPerPeer];
        var received = new bool[Guests, Guests * FlowsPerPeer, FramesPerGuest];
        var receivedCount = new int[Guests];
        var failures = new Exception?[2 * Guests];
        var threads = new Thread[2 * Guests];
        var expectedFor = new int[Guests];
        for (int g = 0; g < Guests; g++)
        {
            for (int i = 0; i < FramesPerGuest; i++)
            {
                expectedFor[Peer(g, i)]++;
            }
        }

        for (int g = 0; g < Guests; g++)
        {
            int me = g;
            threads[g] = new Thread(() => Run(ref failures[me], () => Send(lan, me, sent, end))) { Name = "sender " + me };
            threads[Guests + g] = new Thread(() => Run(ref failures[Guests + me], () => Receive(lan, me, expectedFor[me], received, ref receivedCount[me], end))) { Name = "receiver " + me };
        }

        int sendersRunning = Guests;
        var flippers = new Thread[flipPairs ? Guests : 0];
        var flipFailures = new Exception?[flippers.Length];
        var flips = new int[flippers.Length];
        for (int g = 0; g < flippers.Length; g++)
        {
            int me = g;
            flippers[g] = new Thread(() => Run(ref flipFailures[me], () =>
            {
                while (Volatile.Read(ref sendersRunning) > 0 && DateTime.UtcNow < end)
                {
                    Flip(lan[me].Driver, 1);
                    Thread.Sleep(1);
                    Flip(lan[me].Driver, 2);
                    flips[me]++;
                    Thread.Sleep(2);
                }
            }))
            { Name = "flipper " + me, IsBackground = true };
        }

        foreach (Thread t in threads)
        {
            t.IsBackground = true;
            t.Start();
        }

        foreach (Thread t in flippers)
        {
            t.Start();
        }

        for (int g = 0; g < Guests; g++)
        {
            Assert.True(threads[g].Join(end - DateTime.UtcNow + TimeSpan.FromSeconds(5)), $"{threads[g].Name} did not finish before the deadline");
        }

        Volatile.Write(ref sendersRunning, 0);
        foreach (Thread t in flippers)
        {
            Assert.True(t.Join(TimeSpan.FromSeconds(30)), $"{t.Name} did not finish");
        }

        foreach (Exception? e in flipFailures)
        {
            Assert.True(e is null, e?.ToString());
        }

        for (int g = Guests; g < threads.Length; g++)
        {
            Assert.True(threads[g].Join(end - DateTime.UtcNow + TimeSpan.FromSeconds(5)), $"{threads[g].Name} did not finish before the deadline");
        }

        foreach (Exception? e in failures)
        {
            Assert.True(e is null, e?.ToString() + Environment.NewLine + Describe(lan, received, sent));
        }

        for (int s = 0; s < Guests; s++)
        {
            int total = 0;
            for (int flow = 0; flow < Guests * FlowsPerPeer; flow++)
            {
                total += sent[s, flow];
                for (int seq = 0; seq < sent[s, flow]; seq++)
                {
                    Assert.True(received[s, flow, seq], $"guest {s} flow {flow} seq {seq} never arrived");
                }
            }

            Assert.Equal(FramesPerGuest, total);
        }

        Assert.Equal(expectedFor, receivedCount);
        for (int g = 0; g < Guests; g++)
        {
            var c = lan.Ports[g].GetCounters();
            Assert.True(c.DroppedNoBuffers + c.DroppedQueueDown + c.DroppedBadFrame == 0, $"port {g}: {c}");
            Assert.True(lan[g].Device.GetCounters(3).Packets > 0, $"guest {g} never sent on pair 1");
        }
    }

    /// <summary>Where things stand, for a failure message: per guest the pairs, held chains, counters.</summary>
    private static string Describe(GuestLan lan, bool[,,] received, int[,] sent)
    {
        var b = new System.Text.StringBuilder();
        for (int g = 0; g < Guests; g++)
        {
            var d = lan[g].Device;
            b.Append(System.Globalization.CultureInfo.InvariantCulture, $"g{g}: active {d.ActivePairs}/{lan[g].Driver.ActivePairs}, held {d.GetPair(0).HasHeldChain}/{d.GetPair(1).HasHeldChain}, port {lan.Ports[g].GetCounters()}");
            for (int q = 0; q < 4; q++)
            {
                b.Append(System.Globalization.CultureInfo.InvariantCulture, $"\n  q{q}: {d.GetCounters(q)}; driver outstanding {(q % 2 == 0 ? lan[g].Driver.GetReceivePosted(q / 2) : lan[g].Driver.GetTransmitOutstanding(q / 2))}");
            }

            b.AppendLine();
        }

        for (int s = 0; s < Guests; s++)
        {
            for (int flow = 0; flow < Guests * FlowsPerPeer; flow++)
            {
                int missing = 0;
                for (int seq = 0; seq < sent[s, flow]; seq++)
                {
                    missing += received[s, flow, seq] ? 0 : 1;
                }

                if (missing > 0)
                {
                    b.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"flow {s}/{flow}: {missing} of {sent[s, flow]} missing");
                }
            }
        }

        return b.ToString();
    }

    private static void Flip(VirtioRing.Net.Driver.NetDriver driver, int pairs)
    {
        var ack = driver.SetQueuePairs(pairs);
        if (ack != VirtioRing.Net.Control.ControlAck.Ok)
        {
            throw new InvalidOperationException($"VQ_PAIRS_SET {pairs}: {ack}");
        }
    }

    private static void Run(ref Exception? failure, Action body)
    {
        try
        {
            body();
        }
        catch (Exception e)
        {
            failure = e;
        }
    }

    /// <summary>FramesPerGuest frames, round robin over the peers, each peer's frames spread over FlowsPerPeer flows (UDP ports: both pairs get used).</summary>
    private static void Send(GuestLan lan, int me, int[,] sent, DateTime end)
    {
        var driver = lan[me].Driver;
        for (int i = 0; i < FramesPerGuest; i++)
        {
            int peer = Peer(me, i);
            int flow = (peer * FlowsPerPeer) + ((i / (Guests - 1)) % FlowsPerPeer);
            byte[] frame = FlowFrames.Build(GuestLan.HomeMac(peer), GuestLan.HomeMac(me), me, peer, flow, sent[me, flow]);
            int pair = driver.SelectPair(frame);
            while (!driver.TrySend(pair, frame, default))
            {
                if (DateTime.UtcNow > end)
                {
                    throw new TimeoutException($"sender {me} stuck at frame {i}");
                }

                lan[me].WaitForUsed((2 * pair) + 1, 10);
            }

            sent[me, flow]++;
        }
    }

    private static int Peer(int sender, int i) => (sender + 1 + (i % (Guests - 1))) % Guests;

    /// <summary>Receives until every frame addressed to this guest arrived.</summary>
    private static void Receive(GuestLan lan, int me, int expected, bool[,,] received, ref int count, DateTime end)
    {
        var driver = lan[me].Driver;
        byte[] buffer = new byte[2048];
        int pair = 0;
        while (Volatile.Read(ref count) < expected)
        {
            bool any = false;
            for (int p = 0; p < 2; p++)
            {
                while (driver.TryReceive(p, buffer, out _, out int length))
                {
                    any = true;
                    ReadOnlySpan<byte> f = buffer.AsSpan(0, length);
                    if (!FlowFrames.TryParse(f, out int sender, out int flow, out int seq))
                    {
                        throw new InvalidOperationException($"guest {me} got a frame that is not a flow frame");
                    }

                    if (flow / FlowsPerPeer != me || sender == me)
                    {
                        throw new InvalidOperationException($"guest {me} got a frame from {sender} for flow {flow} (not its own)");
                    }

                    byte[] original = FlowFrames.Build(GuestLan.HomeMac(me), GuestLan.HomeMac(sender), sender, me, flow, seq);
                    if (!original.AsSpan().SequenceEqual(f))
                    {
                        throw new InvalidOperationException($"guest {me}: frame {sender}/{flow}/{seq} differs");
                    }

                    if (received[sender, flow, seq])
                    {
                        throw new InvalidOperationException($"guest {me}: frame {sender}/{flow}/{seq} received twice");
                    }

                    received[sender, flow, seq] = true;
                    Volatile.Write(ref count, count + 1);
                }
            }

            if (!any)
            {
                if (DateTime.UtcNow > end)
                {
                    throw new TimeoutException($"receiver {me} got {count} of {expected}");
                }

                lan[me].WaitForUsed(2 * pair, 5);
                pair ^= 1;
            }
        }
    }

    /// <summary>Each guest broadcasts once (threads already run); every guest then has the other three broadcasts.</summary>
    private static void Learn(GuestLan lan, DateTime end)
    {
        for (int g = 0; g < Guests; g++)
        {
            Assert.True(lan[g].Driver.TrySend(TestFrames.Build(MacAddress.Broadcast, GuestLan.HomeMac(g), 60, -1), default));
        }

        byte[] buffer = new byte[2048];
        for (int g = 0; g < Guests; g++)
        {
            int got = 0;
            while (got < Guests - 1)
            {
                Assert.True(DateTime.UtcNow < end, $"guest {g} got {got} of the learning broadcasts");
                bool any = false;
                for (int p = 0; p < 2; p++)
                {
                    while (lan[g].Driver.TryReceive(p, buffer, out _, out int length))
                    {
                        Assert.Equal(-1, TestFrames.SequenceOf(buffer.AsSpan(0, length)));
                        got++;
                        any = true;
                    }
                }

                if (!any)
                {
                    lan[g].WaitForUsed(0, 5);
                }
            }
        }
    }
}
