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

    public static DaemonGuest Connect(string socket, NetFeatures offered, MacAddress mac)
    {
        var guest = new VhostGuest(offered, packed: false);
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

    public void Send(byte[] frame)
    {
        for (int attempt = 0; attempt < 2000; attempt++)
        {
            if (Guest.Driver.TrySend(0, frame, default))
            {
                return;
            }

            Guest.Driver.ReclaimTransmitted(0);
            Thread.Sleep(1);
        }

        Assert.Fail("the frame could not be sent (transmit ring full)");
    }

    public void ExpectFrame(byte[] expected)
    {
        byte[] received = new byte[2048];
        for (int spin = 0; spin < 500; spin++)
        {
            if (Guest.Driver.TryReceive(0, received, out _, out int length))
            {
                Assert.Equal(expected.Length, length);
                Assert.True(expected.AsSpan().SequenceEqual(received.AsSpan(0, length)), "the frame differs");
                Guest.Driver.ReclaimTransmitted(0);
                return;
            }

            if (!Guest.Driver.EnableUsedNotifications(0))
            {
                Guest.Calls[0].Read(20, out _);
            }
        }

        Assert.Fail("the frame did not arrive");
    }

    public void Dispose()
    {
        Frontend.Dispose();
        Guest.Dispose();
    }
}
