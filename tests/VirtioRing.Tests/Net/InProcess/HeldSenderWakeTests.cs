using VirtioRing.Net;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Engine;
using Xunit;

namespace VirtioRing.Tests.Net.InProcess;

/// <summary>
/// The lossless wake-up path, step by step (Manual mode, so nothing races): A's chain is held because B's receive queue
/// is empty; B's driver receives and reposts; its refill must kick B's device, whose receive-queue kick fires the
/// switch's waiter, which wakes A's pair (<see cref="Doorbell.Notify"/> on A's pair signal) — without A polling.
/// </summary>
public class HeldSenderWakeTests
{
    private const int A = 0;
    private const int B = 1;

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Lossless_HeldSender_ReceiverRepostsAndKicks_SenderPairIsWoken(bool packed, bool oneFrameBatch)
    {
        using var lan = new GuestLan(2, i => GuestLan.Options(i, packed, pairs: 1, queueSize: 32));
        Learn(lan);
        if (oneFrameBatch)
        {
            lan[B].Driver.DisableUsedNotifications(0);   // as the two-thread benchmark: B polls, takes no interrupts
        }

        NetQueuePair senderPair = lan[A].Device.GetPair(0);
        var signal = (Doorbell)senderPair.Signal;

        // Fill B's receive queue until A's chain is held (B takes nothing meanwhile).
        int sent = 0;
        while (!senderPair.HasHeldChain)
        {
            Assert.True(lan[A].Driver.TrySend(Frame(sent), default));
            sent++;
            lan.PollPair(A, 0);
            Assert.True(sent < 1000, "the sender was never held back");
        }

        Assert.True(lan[B].Device.GetCounters(0).NoBuffer > 0, "B's receive queue never ran out");
        Assert.Equal(0, lan[B].Device.GetCounters(0).TotalDrops);   // refused, not dropped: A holds the frame

        // Retrying without new buffers keeps the chain held. Then consume whatever woke A so far (its own TX kicks).
        lan.PollPair(A, 0);
        Assert.True(senderPair.HasHeldChain);
        signal.Wait(0);
        Assert.False(signal.IsSignalled);
        long before = signal.NotifyCount;
        ulong kicksBefore = lan[B].Driver.GetCounters(0).Kicks;

        // B receives (one frame, or everything) and reposts: no poll of A in between.
        if (oneFrameBatch)
        {
            var receiver = default(CountingReceiver);
            Assert.Equal(1, lan[B].Driver.ReceiveBatch(0, ref receiver, 1));
        }
        else
        {
            Assert.NotEmpty(lan.Drain(B));
        }

        Assert.True(lan[B].Driver.GetCounters(0).Kicks > kicksBefore, "B's refill did not kick B's receive queue");
        Assert.True(signal.NotifyCount > before, "B's refill did not wake A's held pair");
        Assert.True(signal.IsSignalled);

        // And the wake-up is worth something: A's next round moves the held chain.
        long packets = lan[B].Device.GetCounters(0).Packets;
        lan.PollPair(A, 0);
        Assert.True(lan[B].Device.GetCounters(0).Packets > packets);
    }

    private static byte[] Frame(int seq) => TestFrames.Build(GuestLan.HomeMac(B), GuestLan.HomeMac(A), 60, seq);

    private static void Learn(GuestLan lan)
    {
        Assert.True(lan[B].Driver.TrySend(TestFrames.Build(MacAddress.Broadcast, GuestLan.HomeMac(B), 60, -1), default));
        lan.PollAll();
        Assert.True(lan[A].Driver.TrySend(TestFrames.Build(MacAddress.Broadcast, GuestLan.HomeMac(A), 60, -1), default));
        lan.PollAll();
        Assert.Single(lan.Drain(A));
        Assert.Single(lan.Drain(B));
    }

    private struct CountingReceiver : INetFrameReceiver
    {
        public int Frames;

        public void OnFrame(in VirtioNetHeader header, in NetReceivedFrame frame) => Frames++;
    }
}
