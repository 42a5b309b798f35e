using System;
using System.Collections.Generic;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using Xunit;

namespace VirtioRing.Tests.Net.Switching;

/// <summary>A frame as a host or backend received it.</summary>
internal sealed record CapturedFrame(int Queue, VirtioNetHeader Header, byte[] Bytes);

/// <summary>
/// A stand-in for a guest's NetDevice: records delivered frames byte for byte, can answer NoBuffers (per queue) until
/// <see cref="PostBuffers"/>, which calls the waiter; records wake-ups (it is also the sender's host).
/// </summary>
internal sealed class FakeHost : INetBackendHost
{
    private readonly object _gate = new();
    private readonly List<INotifier> _waiters = [];

    public List<CapturedFrame> Delivered { get; } = [];

    public int DeliveredCount   // safe while senders deliver
    {
        get
        {
            lock (_gate)
            {
                return Delivered.Count;
            }
        }
    }

    public List<int> Wakes { get; } = [];

    public int Flushes { get; private set; }

    public int Undelivered { get; set; }   // frames delivered since the last flush

    public bool NoBuffers { get; set; }

    public NetDeliveryStatus? Answer { get; set; }  // a fixed answer other than Delivered/NoBuffers

    public bool BuffersAlreadyThere { get; set; }    // WaitForReceiveBuffers answers true

    public NetOffloads ReceiveOffloads => NetOffloads.All;

    public int WaiterCount
    {
        get
        {
            lock (_gate)
            {
                return _waiters.Count;
            }
        }
    }

    public NetDeliveryResult Deliver(int queueHint, in NetFrame frame)
    {
        lock (_gate)
        {
            int q = queueHint < 0 ? 0 : queueHint;
            if (Answer is { } answer)
            {
                return new NetDeliveryResult(answer, q);
            }

            if (NoBuffers)
            {
                return new NetDeliveryResult(NetDeliveryStatus.NoBuffers, q);
            }

            var bytes = new byte[frame.Length];
            Assert.Equal(frame.Length, frame.CopyTo(bytes));
            Delivered.Add(new CapturedFrame(queueHint, frame.Header, bytes));
            Undelivered++;
            return new NetDeliveryResult(NetDeliveryStatus.Delivered, q);
        }
    }

    public void FlushDeliveries()
    {
        lock (_gate)
        {
            Flushes++;
            Undelivered = 0;
        }
    }

    public bool WaitForReceiveBuffers(int queue, INotifier waiter)
    {
        lock (_gate)
        {
            if (BuffersAlreadyThere)
            {
                return true;
            }

            _waiters.Add(waiter);
            return false;
        }
    }

    public void Wake(int queue)
    {
        lock (_gate)
        {
            Wakes.Add(queue);
        }
    }

    public List<(int Queue, Exception Error)> Faults { get; } = [];

    public void ReportFault(int queue, Exception failure)
    {
        lock (_gate)
        {
            Faults.Add((queue, failure));
        }
    }

    /// <summary>Buffers appear: stop answering NoBuffers and call every waiter once.</summary>
    public void PostBuffers()
    {
        INotifier[] waiters;
        lock (_gate)
        {
            NoBuffers = false;
            waiters = _waiters.ToArray();
            _waiters.Clear();
        }

        foreach (INotifier w in waiters)
        {
            w.Notify();
        }
    }
}

/// <summary>An external backend (a TAP stand-in): records transmitted frames, can be busy, and has frames to receive.</summary>
internal sealed class FakeBackend(NetOffloads offloads, int queues = 1) : INetBackend
{
    private readonly object _gate = new();

    public INetBackendHost? Host { get; private set; }

    public bool Detached { get; private set; }

    public List<CapturedFrame> Transmitted { get; } = [];

    public int TransmitFlushes { get; private set; }

    public int BusyAfter { get; set; } = int.MaxValue;   // frames taken before it answers Busy

    public Queue<byte[]> ToReceive { get; } = new();

    public NetOffloads Offloads => offloads;

    public int QueueCount => queues;

    public void Attach(INetBackendHost host) => Host = host;

    public void Detach()
    {
        Detached = true;
        Host = null;
    }

    public NetTransmitStatus Transmit(int queue, in NetFrame frame)
    {
        lock (_gate)
        {
            Assert.False(Detached, "a call after Detach");
            if (Transmitted.Count >= BusyAfter)
            {
                return NetTransmitStatus.Busy;
            }

            var bytes = new byte[frame.Length];
            frame.CopyTo(bytes);
            Transmitted.Add(new CapturedFrame(queue, frame.Header, bytes));
            return NetTransmitStatus.Sent;
        }
    }

    public void FlushTransmit(int queue)
    {
        lock (_gate)
        {
            TransmitFlushes++;
        }
    }

    public int Receive(int queue, int budget)
    {
        int n = 0;
        while (n < budget && ToReceive.Count > 0)
        {
            byte[] f = ToReceive.Peek();
            NetDeliveryResult r = Host!.Deliver(queue, NetFrame.FromSpan(default, f));
            if (r.Status == NetDeliveryStatus.NoBuffers)
            {
                break;   // hold it; offered again on the next Receive
            }

            ToReceive.Dequeue();
            n++;
        }

        return n;
    }
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock : VirtioRing.Net.Switching.INetSwitchClock
{
    public long Now { get; set; } = 1000;

    public long TicksPerSecond => 1000;

    public long GetTimestamp() => Now;

    public void Advance(TimeSpan by) => Now += (long)by.TotalMilliseconds;
}

/// <summary>Builds Ethernet frames for switch tests.</summary>
internal static class SwitchFrames
{
    public static MacAddress Mac(int n) => new(0x0200_0000_0000UL | (uint)n);   // locally administered unicast

    public static byte[] Build(MacAddress destination, MacAddress source, int length = 64, byte fill = 0)
    {
        var f = new byte[length];
        destination.WriteTo(f);
        source.WriteTo(f.AsSpan(6));
        f[12] = 0x08;
        f[13] = 0x00;
        for (int i = 14; i < f.Length; i++)
        {
            f[i] = unchecked((byte)(fill + i));
        }

        return f;
    }
}
