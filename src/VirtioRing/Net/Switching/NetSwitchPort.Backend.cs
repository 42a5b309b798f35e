using System;
using System.Threading;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Offload;

namespace VirtioRing.Net.Switching;

/// <content>An external backend's port: the switch as its host, the receive pump, and offload adaptation toward it.</content>
public sealed partial class NetSwitchPort
{
    /// <summary>The largest frame the switch gathers to complete offloads in software (a 64 KiB IP packet plus L2 headers).</summary>
    internal const int MaxSoftwareFrame = 65536 + 512;

    private readonly object[]? _egressGates;
    private readonly EgressScratch?[]? _scratch;
    private readonly int[]? _rxPending;
    private readonly INotifier? _receiveReady;
    private readonly BackendHost? _backendHost;
    private int _anyPending;
    private int _txWaiting;
    private Exception? _backendFault;

    /// <summary>Gets whether a backend port has woken queues that <see cref="PumpReceive"/> has not served yet.</summary>
    public bool HasReceivePending => Volatile.Read(ref _anyPending) != 0;

    internal INetBackendHost? BackendAsHost => _backendHost;

    /// <summary>
    /// Gets the first failure a backend port's backend reported (<see cref="INetBackendHost.ReportFault"/>: its TAP or
    /// interface went away), or null. The backend drops what the switch sends it from then on; remove the port.
    /// </summary>
    public Exception? BackendFault => Volatile.Read(ref _backendFault);

    /// <summary>
    /// Serves a backend port's woken queues: calls the backend's <see cref="INetBackend.Receive"/> on each (the frames
    /// it delivers are switched on this thread) and publishes them to their receivers. Call it when the port's
    /// <c>receiveReady</c> notifier fires (or in a polling loop); a queue that used its whole budget stays pending.
    /// </summary>
    /// <param name="budget">The most frames per queue in this call.</param>
    /// <returns>The frames received.</returns>
    /// <exception cref="InvalidOperationException">This is a guest port.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="budget"/> is less than 1.</exception>
    public int PumpReceive(int budget)
    {
        if (Backend is null)
        {
            ThrowHelper.ThrowInvalidOperation("A guest port has nothing to pump: its device delivers through the switch.");
        }

        if (budget < 1)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(budget), "The budget is at least 1.");
        }

        if (Interlocked.Exchange(ref _anyPending, 0) == 0 || _removed)
        {
            return 0;
        }

        int total = 0;
        for (int q = 0; q < _rxPending!.Length; q++)
        {
            if (Interlocked.Exchange(ref _rxPending[q], 0) == 0)
            {
                continue;
            }

            SenderQueue sender = GetQueue(q);
            int n;
            lock (sender)
            {
                sender.InPump = true;
                try
                {
                    n = Backend.Receive(q, budget);
                }
                finally
                {
                    sender.InPump = false;
                }

                _switch.Flush(sender);
            }

            total += n;
            if (n >= budget)
            {
                MarkReceivePending(q);
            }
        }

        return total;
    }

    internal void MarkReceivePending(int queue)
    {
        Volatile.Write(ref _rxPending![queue], 1);
        Volatile.Write(ref _anyPending, 1);
        _receiveReady?.Notify();
    }

    internal object EgressGate(int queue) => _egressGates![queue];

    internal void RegisterTxWaiter(SenderQueue sender)
    {
        sender.WaitFor(Bit);
        Volatile.Write(ref _txWaiting, 1);
    }

    internal bool TakeTxWaiting() => Interlocked.Exchange(ref _txWaiting, 0) != 0;

    /// <summary>Transmits to the backend (caller holds the queue's egress gate), completing offloads it lacks.</summary>
    internal NetTransmitStatus TransmitToBackend(int queue, in NetFrame frame, SenderQueue sender)
    {
        INetBackend backend = Backend!;
        VirtioNetHeader header = frame.Header;
        NetOffloads need = Needed(header);
        NetOffloads missing = need & ~backend.Offloads;
        if (missing == NetOffloads.None)
        {
            return backend.Transmit(queue, frame);
        }

        EgressScratch scratch = _scratch![queue] ??= new EgressScratch();
        if (frame.Length > scratch.Frame.Length)
        {
            return NetTransmitStatus.Dropped;
        }

        int length = frame.CopyTo(scratch.Frame);
        Span<byte> bytes = scratch.Frame.AsSpan(0, length);
        var plain = default(VirtioNetHeader);
        if (header.GsoType != NetGsoType.None)
        {
            var request = SegmentationRequest.FromHeader((byte)header.GsoType, header.GsoSize, header.HeaderLength);
            if (SoftwareSegmentation.TryPlan(bytes, request, out SegmentationPlan plan) != OffloadError.None
                || plan.MaxSegmentLength > scratch.Segment.Length)
            {
                return NetTransmitStatus.Dropped;
            }

            int start = sender.SegmentsDone[Index];
            var sink = new SegmentTransmitter(backend, queue, scratch.Segment, start);
            OffloadError error = SoftwareSegmentation.TrySegment(bytes, plan, ref sink, out _);
            if (sink.Busy)
            {
                sender.SegmentsDone[Index] = sink.StoppedAt;
                sender.AnySegmentsDone = true;
                return NetTransmitStatus.Busy;
            }

            sender.SegmentsDone[Index] = 0;
            return error == OffloadError.None && sink.Sent > 0 ? NetTransmitStatus.Sent : NetTransmitStatus.Dropped;
        }

        if (ChecksumOffload.TryCompleteChecksum(bytes, header.ChecksumStart, header.ChecksumOffset) != OffloadError.None)
        {
            return NetTransmitStatus.Dropped;
        }

        return backend.Transmit(queue, NetFrame.FromSpan(plain, bytes));
    }

    private static NetOffloads Needed(in VirtioNetHeader header)
    {
        NetOffloads need = (header.Flags & NetHeaderFlags.NeedsChecksum) != 0 ? NetOffloads.Checksum : NetOffloads.None;
        NetGsoType gso = header.GsoType;
        switch ((NetGsoType)((byte)gso & 0x7F))
        {
            case NetGsoType.None:
                return need;
            case NetGsoType.TcpV4:
                need |= NetOffloads.Tso4 | NetOffloads.Checksum;
                break;
            case NetGsoType.TcpV6:
                need |= NetOffloads.Tso6 | NetOffloads.Checksum;
                break;
            case NetGsoType.Udp:
                need |= NetOffloads.Ufo | NetOffloads.Checksum;
                break;
            default:
                need |= NetOffloads.Uso4 | NetOffloads.Uso6 | NetOffloads.Checksum;
                break;
        }

        return (gso & NetGsoType.Ecn) != 0 ? need | NetOffloads.Ecn : need;
    }

    /// <summary>Per backend queue: where a frame is gathered and each software segment is built.</summary>
    private sealed class EgressScratch
    {
        public readonly byte[] Frame = new byte[MaxSoftwareFrame];
        public readonly byte[] Segment = new byte[MaxSoftwareFrame];
    }

    /// <summary>Hands each software segment to the backend as it is written; stops at the first busy answer.</summary>
    private struct SegmentTransmitter(INetBackend backend, int queue, byte[] buffer, int skip) : ISegmentSink
    {
        public bool Busy;
        public int StoppedAt;
        public int Sent;

        public readonly Span<byte> GetBuffer(int index, int length) => Busy ? default : buffer.AsSpan();

        public void Complete(int index, int length)
        {
            if (index < skip)
            {
                return;   // sent before the backend was busy; this is the same frame offered again
            }

            NetTransmitStatus status = backend.Transmit(queue, NetFrame.FromSpan(default, buffer.AsSpan(0, length)));
            if (status == NetTransmitStatus.Busy)
            {
                Busy = true;
                StoppedAt = index;
                return;
            }

            Sent++;
        }
    }

    /// <summary>The switch as the backend's host: frames it delivers are switched as if this port had sent them.</summary>
    private sealed class BackendHost(NetSwitchPort port) : INetBackendHost
    {
        public NetOffloads ReceiveOffloads => NetOffloads.All;

        /// <remarks>The hint names the backend queue the frame came from (its flow-control state); -1 means queue 0.</remarks>
        public NetDeliveryResult Deliver(int queueHint, in NetFrame frame)
        {
            int q = (uint)queueHint < (uint)port.QueueCount ? queueHint : 0;
            SenderQueue sender = port.GetQueue(q);
            NetTransmitStatus status;
            lock (sender)
            {
                status = port._switch.Forward(port, sender, frame);
                if (!sender.InPump)
                {
                    port._switch.Flush(sender);
                }
            }

            return status switch
            {
                NetTransmitStatus.Sent => new NetDeliveryResult(NetDeliveryStatus.Delivered, q),
                NetTransmitStatus.Busy => new NetDeliveryResult(NetDeliveryStatus.NoBuffers, q),
                _ => new NetDeliveryResult(NetDeliveryStatus.Filtered, q),
            };
        }

        public void FlushDeliveries()
        {
            for (int q = 0; q < port.QueueCount; q++)
            {
                SenderQueue? sender = port.PeekQueue(q);
                if (sender is not null)
                {
                    lock (sender)
                    {
                        port._switch.Flush(sender);
                    }
                }
            }
        }

        public bool WaitForReceiveBuffers(int queue, INotifier waiter)
        {
            if ((uint)queue >= (uint)port.QueueCount || waiter is null)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(queue), "No such backend queue.");
            }

            SenderQueue sender = port.GetQueue(queue);
            Volatile.Write(ref sender.BackendWaiter, waiter);
            if (Interlocked.Exchange(ref sender.WokenSinceHeld, 0) != 0)
            {
                // Woken before the backend asked: retry now (take the waiter back so it is not called twice).
                Interlocked.Exchange(ref sender.BackendWaiter, null);
                return true;
            }

            return false;
        }

        public void Wake(int queue)
        {
            if ((uint)queue >= (uint)port.QueueCount)
            {
                return;
            }

            port.MarkReceivePending(queue);
            if (port.TakeTxWaiting())
            {
                port._switch.WakeWaitersOn(port);
            }
        }

        public void ReportFault(int queue, Exception failure)
        {
            if (failure is null)
            {
                ThrowHelper.ThrowArgumentNull(nameof(failure));
            }

            Interlocked.CompareExchange(ref port._backendFault, failure, null);

            // Senders held back by this port (lossless) would wait for a wake-up that never comes: the
            // backend now drops, so let them retry.
            Wake(queue);
        }
    }
}
