using System;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>A two-queue TAP (<c>IFF_MULTI_QUEUE</c>) under a two-pair guest: traffic on both queues, and queues detached while the guest uses fewer pairs.</summary>
[Collection(TapCollection.Name)]
public sealed class TapMultiqueueTests
{
    [RootFact]
    public void TwoQueues_FlowsFromBothPairs_TrafficOnBothQueuesAndRepliesOnTheSendingPair()
    {
        using TapLab lab = TapLab.Create(queues: 2);
        Assert.True(lab.Backend.Device.IsMultiQueue);

        // The device starts with one active pair: the engine told the backend, which detached queue 1.
        Assert.Equal(1, lab.Backend.ActiveQueues);
        Assert.False(lab.Backend.Device.IsQueueAttached(1));

        Assert.Equal(ControlAck.Ok, lab.Driver.SetQueuePairs(2));
        Assert.Equal(2, lab.Backend.ActiveQueues);
        Assert.True(lab.Backend.Device.IsQueueAttached(1));

        using Socket socket = lab.Namespace.Enter(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(TapLab.HostIp, 7000));
            return s;
        });
        using var stop = new CancellationTokenSource();
        Task echo = Task.Run(() => Echo(socket, stop.Token));
        try
        {
            int[] repliesOnPair = new int[2];
            for (int flow = 0; flow < 8; flow++)
            {
                int pair = flow % 2;
                ushort port = (ushort)(6000 + flow);
                byte[] payload = BitConverterFree(flow);
                lab.Send(lab.Ipv4Frame(Packets.ProtocolUdp, Packets.Udp(TapLab.GuestIp, TapLab.HostIp, port, 7000, payload), (ushort)flow), default, pair);
                (byte[]? frame, VirtioNetHeader header, int got) = lab.ReceiveIpv4(Packets.ProtocolUdp, ip => BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(Packets.Ipv4Header + 2)) == port);
                Assert.True(frame is not null, $"flow {flow}: no echo; {lab.Backend.GetCounters(0)} / {lab.Backend.GetCounters(1)}");
                Assert.True(Packets.ChecksumsValid(frame, header, out string why), why);
                repliesOnPair[got]++;

                // The kernel steers a flow's replies to the queue it came from (its flow table, tun_flow_update).
                Assert.Equal(pair, got);
            }

            for (int q = 0; q < 2; q++)
            {
                TapQueueCountersAssert.HasTraffic(lab.Backend.GetCounters(q), q);
            }

            Assert.Equal(4, repliesOnPair[0]);
            Assert.Equal(4, repliesOnPair[1]);

            // Back to one pair: queue 1 is detached, and every reply comes on pair 0.
            Assert.Equal(ControlAck.Ok, lab.Driver.SetQueuePairs(1));
            Assert.Equal(1, lab.Backend.ActiveQueues);
            Assert.False(lab.Backend.Device.IsQueueAttached(1));
            long queue1Received = lab.Backend.GetCounters(1).ReceivedFrames;
            for (int flow = 8; flow < 16; flow++)
            {
                ushort port = (ushort)(6000 + flow);
                lab.Send(lab.Ipv4Frame(Packets.ProtocolUdp, Packets.Udp(TapLab.GuestIp, TapLab.HostIp, port, 7000, BitConverterFree(flow)), (ushort)flow));
                (byte[]? frame, _, int got) = lab.ReceiveIpv4(Packets.ProtocolUdp, ip => BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(Packets.Ipv4Header + 2)) == port);
                Assert.True(frame is not null, $"flow {flow}: no echo with one pair");
                Assert.Equal(0, got);
            }

            Assert.Equal(queue1Received, lab.Backend.GetCounters(1).ReceivedFrames);
        }
        finally
        {
            stop.Cancel();
            socket.Close();
            echo.Wait(TimeSpan.FromSeconds(5));
        }
    }

    private static byte[] BitConverterFree(int value)
    {
        byte[] b = new byte[32];
        BinaryPrimitives.WriteInt32BigEndian(b, value);
        return b;
    }

    private static void Echo(Socket socket, CancellationToken stop)
    {
        byte[] buffer = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        socket.ReceiveTimeout = 200;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                int n = socket.ReceiveFrom(buffer, ref from);
                socket.SendTo(buffer.AsSpan(0, n), from);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }
}

internal static class TapQueueCountersAssert
{
    public static void HasTraffic(VirtioRing.Linux.Tap.TapQueueCounters c, int queue)
    {
        Assert.True(c.TransmittedFrames > 0, $"queue {queue} transmitted nothing: {c}");
        Assert.True(c.ReceivedFrames > 0, $"queue {queue} received nothing: {c}");
    }
}
