using System;
using System.Threading;
using VirtioRing.Net;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Tests.Packet;

/// <summary>
/// A host that records what a backend does to it, for driving <c>PacketSocketBackend.Receive</c> and
/// <c>Transmit</c> on the test's own thread: deliveries are copied into a preallocated buffer (allocation-free),
/// answers are scripted.
/// </summary>
internal sealed class FakePacketHost : INetBackendHost
{
    private readonly byte[] _last = new byte[70_000];
    private int _wakes;

    public NetOffloads ReceiveOffloads => NetOffloads.All;

    /// <summary>Gets or sets what <see cref="Deliver"/> answers.</summary>
    public NetDeliveryStatus Answer { get; set; } = NetDeliveryStatus.Delivered;

    /// <summary>Gets or sets what <see cref="WaitForReceiveBuffers"/> answers.</summary>
    public bool BuffersAlreadyThere { get; set; }

    public int Deliveries { get; private set; }

    public int Delivered { get; private set; }

    public int LastLength { get; private set; }

    public VirtioNetHeader LastHeader { get; private set; }

    public ReadOnlySpan<byte> Last => _last.AsSpan(0, LastLength);

    public INotifier? Waiter { get; private set; }

    public int Wakes => Volatile.Read(ref _wakes);

    public Exception? Fault { get; private set; }

    public NetDeliveryResult Deliver(int queueHint, in NetFrame frame)
    {
        Deliveries++;
        if (Answer == NetDeliveryStatus.Delivered)
        {
            Delivered++;
            LastLength = frame.CopyTo(_last);
            LastHeader = frame.Header;
        }

        return new NetDeliveryResult(Answer, Math.Max(queueHint, 0));
    }

    public void FlushDeliveries()
    {
    }

    public bool WaitForReceiveBuffers(int queue, INotifier waiter)
    {
        Waiter = waiter;
        return BuffersAlreadyThere;
    }

    public void Wake(int queue) => Interlocked.Increment(ref _wakes);

    public void ReportFault(int queue, Exception failure) => Fault = failure;
}
