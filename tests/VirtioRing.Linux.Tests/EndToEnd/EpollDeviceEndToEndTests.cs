using System;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Engine;
using VirtioRing.Net.InProcess;
using Xunit;

namespace VirtioRing.Linux.Tests.EndToEnd;

public sealed class EpollDeviceEndToEndTests
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:12:34:56");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void InProcessGuest_EpollWorkerSignalAndLoopbackEcho_FramesComeBackByteForByte(bool packed)
    {
        using var signals = new EpollWorkerSignalFactory();
        using (var guest = InProcessGuest.Create(new LoopbackBackend(LoopbackMode.Echo), new InProcessGuestOptions
        {
            Mac = Mac,
            Packed = packed,
            WorkerMode = NetWorkerMode.Blocking,
            SignalFactory = signals.Create,
        }))
        {
            Assert.Equal(1, signals.Count);
            Assert.Same(signals[0], guest.Device.GetPair(0).Signal);
            Echo(guest.Driver, (ms) => guest.WaitForUsed(0, ms), frames: 500);
            Assert.True(signals[0].NotifyWakeups > 0, "the worker never slept in epoll_wait");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NetDevice_MemfdMemoryEventFdKicksAndCalls_FramesComeBackByteForByte(bool packed)
    {
        // The Linux wiring of a vhost-user backend, in one process: guest memory in a memfd, kick and
        // call eventfds, the worker asleep in epoll_wait on its signal and the kick fds.
        const ulong RegionStart = 0x10_0000;
        const int QueueSize = 256;
        NetFeatures wanted = packed ? NetDriverOptions.DefaultFeatures | NetFeatures.RingPacked : NetDriverOptions.DefaultFeatures & ~NetFeatures.RingPacked;
        wanted &= ~(NetFeatures.Mq | NetFeatures.Rss);

        using var signals = new EpollWorkerSignalFactory();
        using var device = new NetDevice(new NetDeviceOptions
        {
            Mac = Mac,
            MaxQueuePairs = 1,
            Backend = new LoopbackBackend(LoopbackMode.Echo),
            WorkerMode = NetWorkerMode.Blocking,
            SignalFactory = signals.Create,
        });

        NetFeatures accepted;
        ulong bufferBytes;
        using (GuestMemory probeMemory = GuestMemory.Allocate(new GuestAddress(RegionStart), 4096))
        {
            var probe = new NetDriver(new NetDriverOptions(probeMemory, new GuestAddress(RegionStart), 4096) { WantedFeatures = wanted });
            accepted = probe.Negotiate(device.OfferedFeatures);
            bufferBytes = probe.GetBufferAreaBytes(QueueSize);
        }

        Assert.True(device.SetDriverFeatures(accepted).IsValid);
        ulong ringBytes = (NetDriverRings.GetRequiredBytes(1, QueueSize, accepted) + 4095) & ~4095UL;
        using var memory = new GuestMemory([MemfdGuestRegion.Create(new GuestAddress(RegionStart), ringBytes + bufferBytes, "e2e-guest").Region]);
        var driver = new NetDriver(new NetDriverOptions(memory, new GuestAddress(RegionStart + ringBytes), bufferBytes) { WantedFeatures = wanted });
        driver.Negotiate(device.OfferedFeatures);
        NetDriverRings rings = NetDriverRings.Create(memory, new GuestAddress(RegionStart), ringBytes, 1, QueueSize, accepted);

        var kicks = new EventFd[rings.Count];
        var calls = new EventFd[rings.Count];
        try
        {
            EpollWorkerSignal signal = signals[0];
            for (int i = 0; i < rings.Count; i++)
            {
                kicks[i] = new EventFd();
                calls[i] = new EventFd();
                device.SetQueue(i, rings[i].CreateDeviceQueue(memory), calls[i]);
                if (i < 2)
                {
                    // A kick eventfd is consumed by the worker's epoll wait, then handed to the device.
                    signal.Add(kicks[i], new DeviceKick(device, i));
                }
            }

            device.Start();
            driver.Bind(rings, kicks);
            Echo(driver, ms => driver.EnableUsedNotifications(0) || calls[0].Read(ms, out _), frames: 500);
            Assert.Equal(2, signal.Count);
        }
        finally
        {
            device.Dispose();
            foreach (EventFd? e in kicks)
            {
                e?.Dispose();
            }

            foreach (EventFd? e in calls)
            {
                e?.Dispose();
            }
        }
    }

    private static void Echo(NetDriver driver, Func<int, bool> waitForReceive, int frames)
    {
        byte[] frame = new byte[300];
        Mac.WriteTo(frame);
        Mac.WriteTo(frame.AsSpan(6));
        frame[12] = 0x88;
        frame[13] = 0xb5;
        var received = new byte[2048];
        for (int i = 0; i < frames; i++)
        {
            frame[20] = (byte)i;
            frame[21] = (byte)(i >> 8);
            frame[frame.Length - 1] = (byte)~i;
            bool sent = false;
            for (int attempt = 0; attempt < 1000 && !sent; attempt++)
            {
                sent = driver.TrySend(0, frame, default);
                if (!sent)
                {
                    driver.ReclaimTransmitted(0);
                    System.Threading.Thread.Sleep(1);
                }
            }

            Assert.True(sent, $"frame {i} could not be sent");
            int length = 0;
            bool got = false;
            for (int spin = 0; spin < 500 && !got; spin++)
            {
                got = driver.TryReceive(0, received, out _, out length);
                if (!got)
                {
                    waitForReceive(20);
                }
            }

            Assert.True(got, $"frame {i} did not come back");
            Assert.Equal(frame.Length, length);
            Assert.True(frame.AsSpan().SequenceEqual(received.AsSpan(0, length)), $"frame {i} differs");
        }
    }

    private sealed class DeviceKick(NetDevice device, int index) : INotifier
    {
        public void Notify() => device.Kick(index);
    }
}
