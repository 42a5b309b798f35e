using System;
using System.Threading;
using VirtioRing.Net;
using VirtioRing.VhostUser.Tests.Infrastructure;
using VirtioRing.VhostUser.Transport;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Daemon;

/// <summary>A test front-end plus a NetDriver guest connected to one of the daemon's sockets, negotiated and started as QEMU would.</summary>
internal sealed class DaemonGuest : IDisposable
{
    private DaemonGuest(VhostGuest guest, TestFrontend frontend, MacAddress mac)
    {
        Guest = guest;
        Frontend = frontend;
        Mac = mac;
    }

    public VhostGuest Guest { get; }

    public TestFrontend Frontend { get; }

    public MacAddress Mac { get; }

    public static DaemonGuest Connect(string socket, NetFeatures offered, MacAddress mac, int queuePairs = 1, NetFeatures without = NetFeatures.None)
    {
        var guest = new VhostGuest(offered, packed: false, queuePairs: queuePairs, without: without);
        TestFrontend? frontend = null;
        try
        {
            frontend = new TestFrontend(VhostUserConnector.Connect(socket));
            EndToEndTests.Negotiate(frontend, guest);
            guest.StartRings(frontend);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            return new DaemonGuest(guest, frontend, mac);
        }
        catch
        {
            frontend?.Dispose();
            guest.Dispose();
            throw;
        }
    }

    /// <summary>A frame from this guest to <paramref name="destination"/>, numbered <paramref name="i"/>, 60..1060 bytes.</summary>
    public byte[] Frame(MacAddress destination, int i)
    {
        byte[] frame = new byte[60 + ((i * 37) % 1001)];
        destination.WriteTo(frame);
        Mac.WriteTo(frame.AsSpan(6));
        frame[12] = 0x88;
        frame[13] = 0xb5;
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(14), i);
        frame[^1] = (byte)~i;
        return frame;
    }

    public void Send(byte[] frame, int pair = 0)
    {
        for (int attempt = 0; attempt < 2000; attempt++)
        {
            if (Guest.Driver.TrySend(pair, frame, default))
            {
                return;
            }

            Guest.Driver.ReclaimTransmitted(pair);
            Thread.Sleep(1);
        }

        Assert.Fail("the frame could not be sent (transmit ring full)");
    }

    /// <summary>Waits for <paramref name="expected"/> on <paramref name="pair"/>'s receive ring (-1: on any pair) and checks it byte for byte.</summary>
    public void ExpectFrame(byte[] expected, int pair = 0)
    {
        byte[] received = new byte[2048];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            for (int p = pair < 0 ? 0 : pair; p < (pair < 0 ? Guest.QueuePairs : pair + 1); p++)
            {
                if (Guest.Driver.TryReceive(p, received, out _, out int length))
                {
                    Assert.Equal(expected.Length, length);
                    Assert.True(expected.AsSpan().SequenceEqual(received.AsSpan(0, length)), "the frame differs");
                    Guest.Driver.ReclaimTransmitted(p);
                    return;
                }
            }

            if (pair < 0)
            {
                Thread.Sleep(1);
            }
            else if (!Guest.Driver.EnableUsedNotifications(2 * pair))
            {
                Guest.Calls[2 * pair].Read(20, out _);
            }
        }

        Assert.Fail($"the frame did not arrive on pair {pair}");
    }

    public void Dispose()
    {
        Frontend.Dispose();
        Guest.Dispose();
    }
}
