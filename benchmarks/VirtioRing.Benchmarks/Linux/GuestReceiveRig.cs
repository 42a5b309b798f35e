using System;
using System.Diagnostics;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Engine;
using VirtioRing.Net.InProcess;

namespace VirtioRing.Benchmarks.Linux;

/// <summary>
/// Kernel → backend → in-process guest: an <see cref="InProcessGuest"/> in <see cref="NetWorkerMode.Manual"/> on a
/// backend, all of it on the benchmark thread: each pass polls every pair (the backend reads waiting frames straight
/// into the guest's receive buffers, the device completes and publishes them) and lets the guest's
/// <see cref="NetDriver"/> take the frames in place and repost the buffers. Frames are counted where the guest's driver
/// receives them. The frames come from <see cref="FrameGenerator"/> on the other CPU.
/// </summary>
internal sealed class GuestReceiveRig : IDisposable
{
    /// <summary>The guest's MAC (the generator's destination).</summary>
    public static readonly MacAddress GuestMac = MacAddress.Parse("52:54:00:12:34:56");

    private const int Budget = 64;
    private readonly long _timeoutTicks = Stopwatch.Frequency * 10;
    private Counter _counter;
    private long _goal;

    public GuestReceiveRig(INetBackend backend, int queues, int frameLength)
    {
        Queues = queues;
        FrameLength = frameLength;
        Guest = InProcessGuest.Create(backend, new InProcessGuestOptions
        {
            Mac = GuestMac,
            QueuePairs = queues,
            WorkerMode = NetWorkerMode.Manual,
            QueueSize = 256,

            // A 64 KiB super-frame (GUEST_TSO4) takes 17 mergeable buffers of 4 KiB.
            MergeableBufferSize = frameLength > 1514 ? 4096 : 2048,

            // A Linux guest's usual set: no hash report (the TAP does not carry it; the header stays 12 bytes), no RSS.
            DriverFeatures = NetDriverOptions.DefaultFeatures & ~(NetFeatures.HashReport | NetFeatures.Rss),
            Name = "bench-rx",
        });

        if (queues > 1 && Guest.Driver.ActivePairs != queues && Guest.Driver.SetQueuePairs(queues) != VirtioRing.Net.Control.ControlAck.Ok)
        {
            Guest.Dispose();
            throw new InvalidOperationException($"the guest could not use {queues} pairs");
        }
    }

    public InProcessGuest Guest { get; }

    public int Queues { get; }

    public int FrameLength { get; }

    /// <summary>Gets the frames the guest's driver received so far.</summary>
    public long Frames => _counter.Frames;

    /// <summary>Gets the frame bytes (without the virtio-net header) the guest's driver received so far.</summary>
    public long Bytes => _counter.Bytes;

    /// <summary>
    /// Polls and receives until the guest has taken <paramref name="frames"/> more frames than the previous calls
    /// asked for in all (so a batch that overshoots one call's target counts toward the next), 10 s at most.
    /// </summary>
    /// <param name="frames">The frames to wait for.</param>
    /// <returns>The frames received in this call.</returns>
    /// <exception cref="TimeoutException">Nothing came for 10 s (the generator stopped).</exception>
    public int Receive(int frames)
    {
        NetDriver driver = Guest.Driver;
        NetDevice device = Guest.Device;
        long start = _counter.Frames;
        _goal += frames;
        long target = _goal;
        long idle = 0;
        long idleSince = 0;
        while (_counter.Frames < target)
        {
            int work = 0;
            for (int p = 0; p < Queues; p++)
            {
                work += device.GetPair(p).Poll(Budget);
            }

            for (int p = 0; p < Queues; p++)
            {
                work += driver.ReceiveBatch(p, ref _counter, (int)Math.Max(1, target - _counter.Frames));
            }

            if (work != 0)
            {
                idle = 0;
                continue;
            }

            // Bounded: give up when nothing arrived for 10 s (checked every 4096 empty passes).
            if ((++idle & 4095) == 1)
            {
                long now = Stopwatch.GetTimestamp();
                if (idle == 1)
                {
                    idleSince = now;
                }
                else if (now - idleSince > _timeoutTicks)
                {
                    throw new TimeoutException($"no frame for 10 s after {_counter.Frames - start} of {frames}: is the generator running?");
                }
            }
        }

        return (int)(_counter.Frames - start);
    }

    public void Dispose() => Guest.Dispose();

    /// <summary>Counts frames and bytes; reads the first byte so the frame is touched in the guest's buffer.</summary>
    private struct Counter : INetFrameReceiver
    {
        public long Frames;
        public long Bytes;

        public void OnFrame(in VirtioNetHeader header, in NetReceivedFrame frame)
        {
            Frames++;
            Bytes += frame.Length + (frame.GetBuffer(0)[0] & 0);
        }
    }
}
