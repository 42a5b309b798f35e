using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.IO;
using System.Threading;
using Microsoft.Extensions.Logging.Abstractions;
using VhostUserNet;
using VirtioRing.Net;
using VirtioRing.VhostUser.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Daemon;

[Collection(SerialCollection.Name)]
public sealed class VhostUserDaemonTests
{
    /// <summary>
    /// A guest that starts its rings and never posts a receive buffer (hostile, or just stuck) must not hold up the
    /// others: with the daemon's default flow control (drop), A's broadcasts keep reaching B, more of them than A's
    /// transmit ring holds (with lossless they would all wait behind the first one, held for C).
    /// </summary>
    [Fact]
    public void Daemon_DefaultFlowControl_GuestWithoutReceiveBuffersDoesNotStallBroadcasts()
    {
        string dir = Directory.CreateTempSubdirectory("vr-daemon-").FullName;
        string[] sockets = [Path.Combine(dir, "a.sock"), Path.Combine(dir, "b.sock"), Path.Combine(dir, "c.sock")];
        using (var daemon = new VhostUserDaemon(new DaemonOptions(sockets, 1, DaemonBackend.Switch, false, TimeSpan.Zero, TimeSpan.Zero), NullLoggerFactory.Instance))
        {
            daemon.Start();
            WaitFor(() => File.Exists(sockets[0]) && File.Exists(sockets[1]) && File.Exists(sockets[2]), "the daemon did not listen");
            using DaemonGuest a = DaemonGuest.Connect(sockets[0], daemon.Devices[0].Device.OfferedFeatures, MacAddress.Read(daemon.Devices[0].Device.Config.Mac));
            using DaemonGuest b = DaemonGuest.Connect(sockets[1], daemon.Devices[1].Device.OfferedFeatures, MacAddress.Read(daemon.Devices[1].Device.Config.Mac));

            // C: rings started, the driver never bound, so its receive ring stays empty.
            using var c = new VhostGuest(daemon.Devices[2].Device.OfferedFeatures, packed: false);
            using var frontend = new TestFrontend(VirtioRing.VhostUser.Transport.VhostUserConnector.Connect(sockets[2]));
            EndToEndTests.Negotiate(frontend, c);
            c.StartRings(frontend);
            WaitFor(() => daemon.Devices[2].Device.IsRunning, "C's device did not start");

            for (int i = 0; i < 400; i++)   // more than A's 256-slot transmit ring
            {
                byte[] f = a.Frame(MacAddress.Broadcast, i);
                a.Send(f);
                b.ExpectFrame(f);
            }

            long dropped = daemon.Devices[2].SwitchPort!.GetCounters().DroppedNoBuffers;
            Assert.True(dropped >= 400, "the frames for C were not dropped and counted");

            // The summary and the meter count each of those frames once as a drop for C (the device's refusals are
            // not drops), and none for B, which took them all.
            Assert.Equal(dropped, daemon.Devices[2].GetCounters().RxDrops);
            Assert.Equal(0, daemon.Devices[1].GetCounters().RxDrops);
        }

        Directory.Delete(dir, recursive: true);
    }

    /// <summary>
    /// --require-sealed-memory reaches the backends: memory the front-end could truncate (a tmpfs file) closes that
    /// session, and the device then serves a well-behaved front-end with sealed memory.
    /// </summary>
    [Fact]
    public void Daemon_RequireSealedMemory_UnsealableRegionRefusedSealedOneServed()
    {
        string dir = Directory.CreateTempSubdirectory("vr-daemon-").FullName;
        string socket = Path.Combine(dir, "a.sock");
        var options = new DaemonOptions([socket], 1, DaemonBackend.Switch, false, TimeSpan.Zero, TimeSpan.Zero) { RequireSealedMemory = true };
        using (var daemon = new VhostUserDaemon(options, NullLoggerFactory.Instance))
        {
            daemon.Start();
            WaitFor(() => File.Exists(socket), "the daemon did not listen");
            using (var tmpfs = new TmpfsFile(0x10000))
            using (var frontend = new TestFrontend(VirtioRing.VhostUser.Transport.VhostUserConnector.Connect(socket)))
            {
                frontend.Send(VirtioRing.VhostUser.Protocol.VhostUserRequest.SetOwner, default);
                frontend.SetMemTable([new VirtioRing.VhostUser.Protocol.VhostUserMemoryRegion(0x10_0000, 0x10000, 0x7000_0000_0000, 0)], tmpfs.Handle);
                var closed = System.Threading.Tasks.Task.Run(() => !frontend.Channel.TryReceive(out _));   // end of stream: the daemon closed it
                Assert.True(closed.Wait(10_000) && closed.Result, "the unsealable memory was not refused");
            }

            using DaemonGuest good = DaemonGuest.Connect(socket, daemon.Devices[0].Device.OfferedFeatures, MacAddress.Read(daemon.Devices[0].Device.Config.Mac));
            WaitFor(() => daemon.Devices[0].Device.IsRunning, "the device did not start for the sealed guest");
        }

        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Daemon_TwoGuestsOnSwitch_FramesBothWaysCountedByMetersThenCleanShutdown()
    {
        new VirtioRing.Linux.EventFd().Dispose();   // loads VirtioRing.Linux and Tmds.LibC (their files stay open) before counting
        int fdsBefore = FdCount.Current();
        string dir = Directory.CreateTempSubdirectory("vr-daemon-").FullName;
        string[] sockets = [Path.Combine(dir, "a.sock"), Path.Combine(dir, "b.sock")];
        var measurements = new Measurements();
        var daemon = new VhostUserDaemon(new DaemonOptions(sockets, 1, DaemonBackend.Switch, false, TimeSpan.Zero, TimeSpan.Zero), NullLoggerFactory.Instance);
        Meter daemonMeter = daemon.Metrics.Meter;
        Meter switchMeter = daemon.Switch!.Meter!;
        Assert.Equal(DaemonOptions.DefaultMeterName, daemonMeter.Name);
        using var listener = measurements.Listen(daemonMeter, switchMeter);
        DaemonGuest? a = null, b = null;
        try
        {
            daemon.Start();
            WaitFor(() => File.Exists(sockets[0]) && File.Exists(sockets[1]), "the daemon did not listen on both sockets");
            a = DaemonGuest.Connect(sockets[0], daemon.Devices[0].Device.OfferedFeatures, MacAddress.Read(daemon.Devices[0].Device.Config.Mac));
            b = DaemonGuest.Connect(sockets[1], daemon.Devices[1].Device.OfferedFeatures, MacAddress.Read(daemon.Devices[1].Device.Config.Mac));

            measurements.Collect(listener);
            Assert.Equal(1, measurements.Get("vhost_user_net.device.up", "vu0"));
            Assert.Equal(1, measurements.Get("vhost_user_net.device.up", "vu1"));
            Assert.Equal(1, measurements.Get("vhost_user_net.device.active_pairs", "vu0"));

            // A -> B, then B -> A, then both interleaved; each frame checked byte for byte where it lands.
            long aFrames = 0, aBytes = 0, bFrames = 0, bBytes = 0;
            for (int i = 0; i < 150; i++)
            {
                byte[] f = a.Frame(b.Mac, i);
                a.Send(f);
                b.ExpectFrame(f);
                aFrames++;
                aBytes += f.Length;
            }

            for (int i = 0; i < 120; i++)
            {
                byte[] f = b.Frame(a.Mac, 1000 + i);
                b.Send(f);
                a.ExpectFrame(f);
                bFrames++;
                bBytes += f.Length;
            }

            // The summary line is built from the same totals as the meter.
            WaitFor(
                () =>
                {
                    measurements.Collect(listener);
                    return measurements.Get("vhost_user_net.frames", "vu1", "rx") == aFrames && measurements.Get("vhost_user_net.frames", "vu0", "rx") == bFrames;
                },
                "the receive counters did not reach the frames delivered");
            Assert.Equal(aFrames, measurements.Get("vhost_user_net.frames", "vu0", "tx"));
            Assert.Equal(aBytes, measurements.Get("vhost_user_net.bytes", "vu0", "tx"));
            Assert.Equal(aBytes, measurements.Get("vhost_user_net.bytes", "vu1", "rx"));
            Assert.Equal(bFrames, measurements.Get("vhost_user_net.frames", "vu1", "tx"));
            Assert.Equal(bBytes, measurements.Get("vhost_user_net.bytes", "vu1", "tx"));
            Assert.Equal(bBytes, measurements.Get("vhost_user_net.bytes", "vu0", "rx"));
            foreach (string device in new[] { "vu0", "vu1" })
            {
                Assert.Equal(0, measurements.Get("vhost_user_net.drops", device, "rx"));
                Assert.Equal(0, measurements.Get("vhost_user_net.drops", device, "tx"));
            }

            // The switch's own instruments (port = device name): in = sent by the port, out = delivered to it.
            Assert.Equal(aFrames, measurements.Get("virtio_net.switch.frames", "vu0", "in"));
            Assert.Equal(aFrames, measurements.Get("virtio_net.switch.frames", "vu1", "out"));
            Assert.Equal(bFrames, measurements.Get("virtio_net.switch.frames", "vu1", "in"));
            Assert.Equal(bBytes, measurements.Get("virtio_net.switch.bytes", "vu0", "out"));

            string line = daemon.FormatCounters();
            Assert.DoesNotContain('\n', line);
            Assert.Contains($"vu0 up 1q tx {aFrames} fr {aBytes} B, rx {bFrames} fr {bBytes} B, drops tx 0 rx 0", line, StringComparison.Ordinal);
            Assert.Contains($"vu1 up 1q tx {bFrames} fr {bBytes} B, rx {aFrames} fr {aBytes} B", line, StringComparison.Ordinal);

            // Shut down with both front-ends still connected: sessions end, threads end, sockets go, meters complete.
            daemon.Dispose();
            foreach (DaemonDevice d in daemon.Devices)
            {
                Assert.False(d.IsServing, $"{d.Name}: the serving thread still runs");
                Assert.False(File.Exists(d.Socket), $"{d.Socket} was not removed");
            }

            Assert.True(measurements.Completed(daemonMeter), "the daemon meter was not disposed");
            Assert.True(measurements.Completed(switchMeter), "the switch meter was not disposed");
        }
        finally
        {
            daemon.Dispose();
            a?.Dispose();
            b?.Dispose();
            Directory.Delete(dir, recursive: true);
        }

        listener.Dispose();
        VirtioRing.VhostUser.Backend.DeferredRelease.Drain();   // unmapped memory and kick fds are released after a grace period
        FdCount.AssertNoneLeaked(fdsBefore);
    }

    internal static void WaitFor(Func<bool> condition, string message)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), message);
            Thread.Sleep(5);
        }
    }

    /// <summary>The latest value of each observable measurement, by instrument and tags.</summary>
    internal sealed class Measurements
    {
        private readonly Dictionary<string, long> _latest = [];
        private readonly HashSet<Meter> _completed = [];
        private readonly object _gate = new();

        public MeterListener Listen(params Meter[] meters)
        {
            var listener = new MeterListener
            {
                InstrumentPublished = (instrument, l) =>
                {
                    if (Array.IndexOf(meters, instrument.Meter) >= 0)
                    {
                        l.EnableMeasurementEvents(instrument);
                    }
                },
                MeasurementsCompleted = (instrument, _) =>
                {
                    lock (_gate)
                    {
                        _completed.Add(instrument.Meter);
                    }
                },
            };
            listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
            listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
            listener.Start();
            return listener;
        }

        public void Collect(MeterListener listener) => listener.RecordObservableInstruments();

        public long Get(string instrument, string device, string? direction = null)
        {
            lock (_gate)
            {
                string key = Key(instrument, device, direction);
                Assert.True(_latest.TryGetValue(key, out long value), $"no measurement {key}");
                return value;
            }
        }

        public bool Completed(Meter meter)
        {
            lock (_gate)
            {
                return _completed.Contains(meter);
            }
        }

        private void Record(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? device = null, direction = null;
            foreach (KeyValuePair<string, object?> t in tags)
            {
                switch (t.Key)
                {
                    case "device" or "port":
                        device = (string?)t.Value;
                        break;
                    case "direction":
                        direction = (string?)t.Value;
                        break;
                    case "reason":
                        direction = "reason:" + t.Value;
                        break;
                }
            }

            lock (_gate)
            {
                _latest[Key(instrument.Name, device, direction)] = value;
            }
        }

        private static string Key(string instrument, string? device, string? direction) => $"{instrument}/{device}/{direction}";
    }
}
