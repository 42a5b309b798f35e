using System;
using System.Net;
using System.Net.Sockets;
using VirtioRing.Linux.Packet;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using Xunit;

namespace VirtioRing.Linux.Tests.Packet;

/// <summary>The backend driven directly on the test's thread against a scripted host (no engine): exact answers, exact counts.</summary>
public sealed class PacketSocketBackendHostTests
{
    [RootFact]
    public void Receive_HostHasNoBuffers_FrameStaysFirstUntilTheWaiterFires_ThenAllArriveInOrder()
    {
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach();
        var host = new FakePacketHost { Answer = NetDeliveryStatus.NoBuffers };
        backend.Attach(host);
        using Socket kernel = lab.OpenUdp(7500);
        for (int i = 0; i < 3; i++)
        {
            kernel.SendTo(BitConverter.GetBytes(i), new IPEndPoint(PacketLab.GuestIp, 7501));
        }

        // Wait for the ring to hand the block over, then be refused: the frame is kept.
        long deadline = Environment.TickCount64 + 5000;
        while (host.Deliveries == 0 && Environment.TickCount64 < deadline)
        {
            Assert.Equal(0, backend.Receive(0, 64));
            System.Threading.Thread.Sleep(2);
        }

        Assert.Equal(1, host.Deliveries);
        Assert.NotNull(host.Waiter);
        Assert.Equal(0, backend.Receive(0, 64));   // refused again: still the first frame, nothing consumed
        Assert.Equal(2, host.Deliveries);
        Assert.True(backend.GetCounters(0).ReceiveNoBuffers >= 2);

        int wakes = host.Wakes;
        host.Waiter!.Notify();
        Assert.True(host.Wakes > wakes, "the waiter did not wake the queue");

        host.Answer = NetDeliveryStatus.Delivered;
        for (int i = 0; i < 3; i++)
        {
            deadline = Environment.TickCount64 + 5000;
            int before = host.Delivered;
            while (host.Delivered == before && Environment.TickCount64 < deadline)
            {
                backend.Receive(0, 1);
            }

            Assert.True(TestFrames.IsUdp(host.Last, 7501, out _, out ReadOnlySpan<byte> payload), "not the datagram");
            Assert.Equal(i, BitConverter.ToInt32(payload));
        }

        Assert.Equal(3, backend.GetCounters(0).ReceivedFrames);
    }

    [RootFact]
    public void Receive_HostSaysBuffersAppearedButKeepsRefusing_RetriesABoundedNumberOfTimesThenWakesItself()
    {
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach();
        var host = new FakePacketHost { Answer = NetDeliveryStatus.NoBuffers, BuffersAlreadyThere = true };
        backend.Attach(host);
        using Socket kernel = lab.OpenUdp(7600);
        kernel.SendTo([1], new IPEndPoint(PacketLab.GuestIp, 7601));
        long deadline = Environment.TickCount64 + 5000;
        while (host.Deliveries == 0 && Environment.TickCount64 < deadline)
        {
            backend.Receive(0, 64);
            System.Threading.Thread.Sleep(2);
        }

        Assert.InRange(host.Deliveries, 2, 3);   // the first try and two retries, then it stops
        int wakes = host.Wakes;
        Assert.Equal(0, backend.Receive(0, 64));
        Assert.True(host.Wakes > wakes, "it did not ask to be polled again");
    }

    [RootFact]
    public void Receive_HostRefusesForGood_FramesConsumedAndCountedByReason()
    {
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach();
        var host = new FakePacketHost();
        backend.Attach(host);
        using Socket kernel = lab.OpenUdp(7700);
        NetDeliveryStatus[] answers = [NetDeliveryStatus.Filtered, NetDeliveryStatus.BadFrame, NetDeliveryStatus.QueueDown, NetDeliveryStatus.Delivered];
        foreach (NetDeliveryStatus answer in answers)
        {
            host.Answer = answer;
            int before = host.Deliveries;
            kernel.SendTo([(byte)answer], new IPEndPoint(PacketLab.GuestIp, 7701));
            long deadline = Environment.TickCount64 + 5000;
            while (host.Deliveries == before && Environment.TickCount64 < deadline)
            {
                backend.Receive(0, 64);
            }

            Assert.Equal(before + 1, host.Deliveries);
        }

        PacketQueueCounters c = backend.GetCounters(0);
        Assert.Equal((1, 1, 1, 1), (c.ReceiveHostFiltered, c.ReceiveBadFrame, c.ReceiveQueueDown, c.ReceivedFrames));
    }

    [RootFact]
    public void TransmitAndReceive_SteadyState_AllocateNothing()
    {
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach();
        var host = new FakePacketHost();
        backend.Attach(host);
        using Socket kernel = lab.OpenUdp(7800);
        byte[] frame = TestFrames.Udp(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, 45000, 7800, new byte[100]);
        var header = TestFrames.NeedsChecksum(tcp: false);
        byte[] partial = TestFrames.Udp(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, 45000, 7800, new byte[100], partialChecksum: true);

        // Warm up both directions (JIT, first-use buffers).
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(NetTransmitStatus.Sent, backend.Transmit(0, NetFrame.FromSpan(default, frame)));
            Assert.Equal(NetTransmitStatus.Sent, backend.Transmit(0, NetFrame.FromSpan(header, partial)));
        }

        Drain(kernel);
        ReceiveAll(backend, host, kernel, 50, out _);

        long allocated = 0;
        for (int i = 0; i < 500; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            NetTransmitStatus s1 = backend.Transmit(0, NetFrame.FromSpan(default, frame));
            NetTransmitStatus s2 = backend.Transmit(0, NetFrame.FromSpan(header, partial));
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(NetTransmitStatus.Sent, s1);
            Assert.Equal(NetTransmitStatus.Sent, s2);
            if (i % 50 == 49)
            {
                Drain(kernel);
            }
        }

        Assert.Equal(0, allocated);
        ReceiveAll(backend, host, kernel, 300, out long receiveAllocated);
        Assert.Equal(0, receiveAllocated);
    }

    /// <summary>Has the kernel send <paramref name="count"/> datagrams to the guest address and receives them all, counting the bytes allocated inside <c>Receive</c>.</summary>
    private static void ReceiveAll(PacketSocketBackend backend, FakePacketHost host, Socket kernel, int count, out long allocated)
    {
        var to = new IPEndPoint(PacketLab.GuestIp, 7801);
        byte[] payload = new byte[64];
        int target = host.Delivered + count;
        for (int i = 0; i < count; i++)
        {
            kernel.SendTo(payload, to);
        }

        allocated = 0;
        long deadline = Environment.TickCount64 + 10_000;
        while (host.Delivered < target && Environment.TickCount64 < deadline)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            backend.Receive(0, 64);
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(target, host.Delivered);
    }

    private static void Drain(Socket kernel)
    {
        var buffer = new byte[2048];
        while (kernel.Available > 0)
        {
            kernel.Receive(buffer);
        }
    }
}
