using System;
using System.Collections.Generic;
using System.Threading;
using VirtioRing.Net;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>
/// A host that lends no buffers (like the switch): records what the backend delivers, answers with a
/// status the test sets, keeps the buffer waiter, and counts wake-ups and fault reports.
/// </summary>
internal sealed class RecordingHost : INetBackendHost
{
    private readonly object _gate = new();
    private int _wakes;

    public NetOffloads ReceiveOffloads { get; set; }

    /// <summary>Gets or sets what <see cref="Deliver"/> answers.</summary>
    public NetDeliveryStatus Answer { get; set; } = NetDeliveryStatus.Delivered;

    public List<(VirtioNetHeader Header, byte[] Frame)> Delivered { get; } = [];

    public int Offered { get; private set; }

    public INotifier? Waiter { get; private set; }

    public int Wakes => Volatile.Read(ref _wakes);

    public List<(int Queue, Exception Error)> Faults { get; } = [];

    public AutoResetEvent Woken { get; } = new(false);

    public NetDeliveryResult Deliver(int queueHint, in NetFrame frame)
    {
        lock (_gate)
        {
            Offered++;
            if (Answer == NetDeliveryStatus.Delivered)
            {
                byte[] copy = new byte[frame.Length];
                frame.CopyTo(copy);
                Delivered.Add((frame.Header, copy));
            }

            return new NetDeliveryResult(Answer, queueHint);
        }
    }

    public void FlushDeliveries()
    {
    }

    public bool WaitForReceiveBuffers(int queue, INotifier waiter)
    {
        Waiter = waiter;
        return false;
    }

    public void Wake(int queue)
    {
        Interlocked.Increment(ref _wakes);
        Woken.Set();
    }

    public void ReportFault(int queue, Exception failure)
    {
        lock (_gate)
        {
            Faults.Add((queue, failure));
        }
    }
}
