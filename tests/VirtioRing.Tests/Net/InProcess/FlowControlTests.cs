using System;
using System.Collections.Generic;
using System.Threading;
using VirtioRing.Net;
using VirtioRing.Net.Engine;
using VirtioRing.Net.Switching;
using Xunit;

namespace VirtioRing.Tests.Net.InProcess;

/// <summary>
/// Switch flow control with real guests (issue 4): in lossless mode a receiver that takes nothing for a while holds the
/// sender's chains (none dropped) and, once it drains, gets everything in order; in drop mode the switch counts the
/// frames it could not place instead and the sender never waits.
/// </summary>
public class FlowControlTests
{
    private const int A = 0;
    private const int B = 1;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Lossless_ReceiverStopsTakingFrames_SenderIsHeldAndEverythingArrivesInOrder(bool packed)
    {
        using var lan = new GuestLan(2, i => GuestLan.Options(i, packed, pairs: 1, queueSize: 32));
        Learn(lan);
        NetQueuePair senderPair = lan[A].Device.GetPair(0);

        // B takes nothing: A sends until its own ring is full.
        int sent = 0;
        while (lan[A].Driver.TrySend(Frame(sent), default))
        {
            sent++;
            lan.PollPair(A, 0);
            Assert.True(sent < 1000, "the sender was never held back");
        }

        long delivered = lan[B].Device.GetCounters(0).Packets - 1;   // minus the learning broadcast
        Assert.True(sent > delivered, $"sent {sent}, delivered {delivered}: more than fit must have been sent");
        Assert.True(senderPair.HasHeldChain, "the sender's chain must be held for the full receiver");
        for (int i = 0; i < 20; i++)
        {
            lan.PollAll();       // asking again changes nothing while B takes nothing
        }

        Assert.True(senderPair.HasHeldChain);
        NetSwitchPortCounters toB = lan.Ports[B].GetCounters();
        Assert.Equal(0, toB.DroppedNoBuffers);
        Assert.True(lan.Ports[A].GetCounters().HeldFrames > 0);
        Assert.Equal(0, lan[A].Device.GetCounters(1).TotalDrops);

        // B drains; then both keep going until everything is through: all of it, in order.
        var got = new List<int>();
        for (int round = 0; round < 1000 && got.Count < sent; round++)
        {
            foreach (ReceivedFrame f in lan.Drain(B))
            {
                got.Add(Check(f.Bytes));
            }

            lan.PollAll();
        }

        Assert.Equal(sent, got.Count);
        for (int i = 0; i < sent; i++)
        {
            Assert.Equal(i, got[i]);
        }

        Assert.False(senderPair.HasHeldChain);
        Assert.Equal(0, lan.Ports[B].GetCounters().DroppedNoBuffers);
        Assert.Equal(sent + 1, lan.Ports[B].GetCounters().ForwardedFrames);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DropAndCount_ReceiverStopsTakingFrames_SwitchDropsAndCountsAndSenderNeverWaits(bool packed)
    {
        using var lan = new GuestLan(2, i => GuestLan.Options(i, packed, pairs: 1, queueSize: 32),
            new NetSwitchOptions { FlowControl = NetSwitchFlowControl.DropAndCount, GuestPortQueues = 4 });
        Learn(lan);
        const int Frames = 200;
        for (int i = 0; i < Frames; i++)
        {
            Assert.True(lan[A].Driver.TrySend(Frame(i), default), $"frame {i}: the sender must never be held in drop mode");
            lan.PollPair(A, 0);
            Assert.False(lan[A].Device.GetPair(0).HasHeldChain);
        }

        var got = new List<int>();
        foreach (ReceivedFrame f in lan.Drain(B))
        {
            got.Add(Check(f.Bytes));
        }

        NetSwitchPortCounters toB = lan.Ports[B].GetCounters();
        Assert.True(toB.DroppedNoBuffers > 0);
        Assert.Equal(Frames, got.Count + toB.DroppedNoBuffers);
        Assert.Equal(got.Count + 1, toB.ForwardedFrames);
        for (int i = 0; i < got.Count; i++)
        {
            Assert.Equal(i, got[i]);     // the first ones fit; the rest were dropped, not reordered
        }

        // With buffers back, frames arrive again.
        Assert.True(lan[A].Driver.TrySend(Frame(Frames), default));
        lan.PollAll();
        Assert.Equal(Frames, Check(Assert.Single(lan.Drain(B)).Bytes));
    }

    /// <summary>The same with worker threads: the receiver thread stops receiving twice for a while; the sender is held, then resumes, in order.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Lossless_WorkerThreadsAndPausingReceiver_EverythingArrivesInOrder(bool packed)
    {
        using var lan = new GuestLan(2, i => GuestLan.Options(i, packed, pairs: 1, queueSize: 64, mode: NetWorkerMode.Blocking));
        const int Frames = 3000;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        Exception? failure = null;
        var got = new List<int>(Frames);
        var receiver = new Thread(() =>
        {
            try
            {
                byte[] buffer = new byte[2048];
                while (got.Count < Frames && DateTime.UtcNow < deadline)
                {
                    if (lan[B].Driver.TryReceive(0, buffer, out _, out int length))
                    {
                        got.Add(Check(buffer.AsSpan(0, length).ToArray()));
                        if (got.Count is 100 or 2000)
                        {
                            Thread.Sleep(150);      // take nothing for a while
                        }
                    }
                    else
                    {
                        lan[B].WaitForUsed(0, 20);
                    }
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        receiver.Start();
        int sent = 0;
        while (sent < Frames && DateTime.UtcNow < deadline)
        {
            if (lan[A].Driver.TrySend(0, Frame(sent), default))
            {
                sent++;
            }
            else
            {
                lan[A].WaitForUsed(1, 20);
            }
        }

        Assert.True(receiver.Join(TimeSpan.FromSeconds(60)), "the receiver did not finish");
        Assert.Null(failure);
        Assert.Equal(Frames, sent);
        Assert.Equal(Frames, got.Count);
        for (int i = 0; i < Frames; i++)
        {
            Assert.Equal(i, got[i]);
        }

        Assert.True(lan.Ports[A].GetCounters().HeldFrames > 0, "the pauses should have held the sender");
        Assert.Equal(0, lan.Ports[B].GetCounters().DroppedNoBuffers);
    }

    private static byte[] Frame(int seq) => TestFrames.Build(GuestLan.HomeMac(B), GuestLan.HomeMac(A), 60 + (seq * 13 % 1400), seq);

    private static int Check(byte[] frame)
    {
        int seq = TestFrames.SequenceOf(frame);
        Assert.True(seq >= 0);
        Assert.True(Frame(seq).AsSpan().SequenceEqual(frame), $"frame {seq} differs");
        return seq;
    }

    private static void Learn(GuestLan lan)
    {
        Assert.True(lan[B].Driver.TrySend(TestFrames.Build(MacAddress.Broadcast, GuestLan.HomeMac(B), 60, -1), default));
        lan.PollAll();
        Assert.True(lan[A].Driver.TrySend(TestFrames.Build(MacAddress.Broadcast, GuestLan.HomeMac(A), 60, -1), default));
        lan.PollAll();
        Assert.Single(lan.Drain(A));
        Assert.Single(lan.Drain(B));
    }
}
