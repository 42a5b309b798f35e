using System;
using VirtioRing.Net;
using VirtioRing.Net.Engine;
using VirtioRing.Net.InProcess;
using VirtioRing.Net.Switching;
using Xunit;

namespace VirtioRing.Tests.Net.InProcess;

public sealed class InterGuestSmokeTests
{
    [Theory]
    [InlineData(false, NetWorkerMode.Manual)]
    [InlineData(true, NetWorkerMode.Manual)]
    [InlineData(false, NetWorkerMode.Blocking)]
    [InlineData(true, NetWorkerMode.Blocking)]
    public void Unicast_TwoGuestsOnSwitch_ArrivesByteForByte(bool packed, NetWorkerMode mode)
    {
        var lan = new NetSwitch();
        var macA = MacAddress.Parse("52:54:00:00:00:0a");
        var macB = MacAddress.Parse("52:54:00:00:00:0b");
        using var a = InProcessGuest.Create(lan.AddGuestPort("a"), new InProcessGuestOptions { Mac = macA, Packed = packed, WorkerMode = mode });
        using var b = InProcessGuest.Create(lan.AddGuestPort("b"), new InProcessGuestOptions { Mac = macB, Packed = packed, WorkerMode = mode });

        byte[] frame = new byte[200];
        macB.WriteTo(frame);
        macA.WriteTo(frame.AsSpan(6));
        frame[12] = 0x88;
        frame[13] = 0xb5;
        var received = new byte[2048];
        for (int i = 0; i < 500; i++)
        {
            frame[20] = (byte)i;
            frame[21] = (byte)(i >> 8);
            Assert.True(a.Driver.TrySend(frame, default));
            if (mode == NetWorkerMode.Manual)
            {
                a.Device.GetPair(0).Poll(64);
            }

            int length = 0;
            for (int spin = 0; spin < 2000; spin++)
            {
                if (b.Driver.TryReceive(0, received, out _, out length))
                {
                    break;
                }

                if (mode == NetWorkerMode.Blocking)
                {
                    b.WaitForUsed(0, 10);
                }
            }

            Assert.Equal(frame.Length, length);
            Assert.True(frame.AsSpan().SequenceEqual(received.AsSpan(0, length)), $"frame {i} differs");
        }
    }
}
