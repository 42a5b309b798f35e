using System;
using System.Runtime.CompilerServices;
using System.Threading;
using VirtioRing.Net.Backends;

namespace VirtioRing.Net.Switching;

/// <content>The hot path: the forwarding decision, delivery, flow control and flushing.</content>
public sealed partial class NetSwitch
{
    private const ulong GroupBit = 1UL << 40;   // I/G bit of the first octet (IEEE 802 §8.2)
    private const int ImmediateRetries = 2;

    private enum Egress
    {
        Delivered,
        Held,
        Dropped,
    }

    /// <summary>Forwards one frame a port sent on one of its queues.</summary>
    internal NetTransmitStatus Forward(NetSwitchPort from, SenderQueue sq, in NetFrame sent)
    {
        if (from.IsRemoved)
        {
            sq.InQueueDown++;
            return NetTransmitStatus.Dropped;
        }

        // With filters installed, everything below reads one private copy (NetSwitch.Filtering.cs). Without, the
        // sender's frame is switched by reference: no copy of the (large) NetFrame struct per frame.
        if (NeedsPrivateCopy(from, sent))
        {
            return ForwardPrivateCopy(from, sq, sent);
        }

        return ForwardFrame(from, sq, sent);
    }

    /// <summary>Takes the private copy (<see cref="PrivateCopyIfFiltered"/>) and forwards it; out of the common path.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private NetTransmitStatus ForwardPrivateCopy(NetSwitchPort from, SenderQueue sq, in NetFrame sent)
    {
        NetFrame frame = PrivateCopyIfFiltered(from, sq, sent, out bool tooLong);
        if (tooLong)
        {
            RefreshNow(sq);
            return DropBadFrame(sq, sent.Length);
        }

        return ForwardFrame(from, sq, frame);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void RefreshNow(SenderQueue sq)
    {
        if (!sq.NowValid)
        {
            sq.Now = _clock.GetTimestamp();
            sq.NowValid = true;
        }
    }

    private static NetTransmitStatus DropBadFrame(SenderQueue sq, int length)
    {
        sq.Holding = false;
        sq.InFrames++;
        sq.InBytes += length;
        sq.InBadFrame++;
        return NetTransmitStatus.Dropped;
    }

    /// <summary>The forwarding decision for a frame the switch may read in place (its own copy, or no filters).</summary>
    [SkipLocalsInit]
    private NetTransmitStatus ForwardFrame(NetSwitchPort from, SenderQueue sq, in NetFrame frame)
    {
        RefreshNow(sq);

        Span<byte> scratch = stackalloc byte[12];
        ReadOnlySpan<byte> ethernet = frame.Peek(12, scratch);
        if (ethernet.Length < 12)
        {
            return DropBadFrame(sq, frame.Length);
        }

        ulong destination = MacAddress.ReadKey(ethernet);
        ulong source = MacAddress.ReadKey(ethernet.Slice(6));

        // The same frame offered again after Busy: deliver only to the ports that did not get it.
        ulong done = 0;
        bool retry = sq.Holding && sq.HeldLength == frame.Length && sq.HeldDestination == destination && sq.HeldSource == source
            && sq.HeldKey == HoldKey(frame);
        if (retry)
        {
            done = sq.HeldDone;
        }
        else
        {
            if (sq.AnySegmentsDone)
            {
                Array.Clear(sq.SegmentsDone, 0, sq.SegmentsDone.Length);
                sq.AnySegmentsDone = false;
            }

            sq.InFrames++;
            sq.InBytes += frame.Length;
        }

        sq.Holding = false;
        if (sq.WaitingOn != 0)
        {
            Volatile.Write(ref sq.WaitingOn, 0);
        }

        // Learn the source (a group address is never a source; a port's own static address is already known).
        if ((source & GroupBit) == 0 && source != from.MacKey && !_macs.Learn(source, from.Index, sq.Now))
        {
            sq.LearningRefused++;                   // the port holds its limit, or the table is full: forwarded anyway
        }

        if ((destination & GroupBit) == 0)
        {
            int target = -1;
            int peer = from.TxPeer(sq.Queue);
            if (peer >= 0 && Volatile.Read(ref _ports[peer]) is { } bound && bound.MacKey == destination)
            {
                target = peer;                      // per-MAC fast path: the queue's one peer, no lookup
            }
            else
            {
                target = _macs.Lookup(destination, sq.Now);
            }

            if (target == from.Index)
            {
                sq.InNoRoute++;                     // never back to the sender
                return NetTransmitStatus.Dropped;
            }

            if (target >= 0 && Volatile.Read(ref _ports[target]) is { } to)
            {
                Egress outcome = (done & to.Bit) != 0 ? Egress.Delivered : Deliver(from, sq, to, frame);
                if (outcome == Egress.Held)
                {
                    Hold(sq, frame, destination, source, done, retry);
                    return NetTransmitStatus.Busy;
                }

                return outcome == Egress.Delivered ? NetTransmitStatus.Sent : NetTransmitStatus.Dropped;
            }
        }

        return Flood(from, sq, frame, destination, source, done, retry);
    }

    /// <summary>Publishes everything a sender queue delivered since its last flush (each touched receiver once).</summary>
    internal void Flush(SenderQueue sq)
    {
        sq.NowValid = false;
        ulong touched = sq.Touched;
        if (touched == 0)
        {
            return;
        }

        sq.Touched = 0;
        for (; touched != 0; touched &= touched - 1)
        {
            NetSwitchPort? to = Volatile.Read(ref _ports[SwitchBits.LowestIndex(touched)]);
            if (to is null)
            {
                continue;
            }

            if (to.Backend is null)
            {
                to.Host?.FlushDeliveries();
                continue;
            }

            int bq = sq.Queue % to.QueueCount;
            lock (to.EgressGate(bq))
            {
                if (!to.IsRemoved)
                {
                    to.Backend.FlushTransmit(bq);
                }
            }
        }
    }

    private NetTransmitStatus Flood(NetSwitchPort from, SenderQueue sq, in NetFrame frame, ulong destination, ulong source, ulong done, bool retry)
    {
        ulong targets = Volatile.Read(ref _activeMask) & ~from.Bit;
        if (targets == 0)
        {
            sq.InNoRoute++;
            return NetTransmitStatus.Dropped;
        }

        if (!retry)
        {
            sq.Flooded++;
        }

        bool held = false;
        for (ulong pending = targets & ~done; pending != 0; pending &= pending - 1)
        {
            NetSwitchPort? to = Volatile.Read(ref _ports[SwitchBits.LowestIndex(pending)]);
            if (to is null)
            {
                continue;
            }

            if (Deliver(from, sq, to, frame) == Egress.Held)
            {
                held = true;
            }
            else
            {
                done |= to.Bit;
            }
        }

        if (held)
        {
            Hold(sq, frame, destination, source, done, retry);
            return NetTransmitStatus.Busy;
        }

        return NetTransmitStatus.Sent;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Hold(SenderQueue sq, in NetFrame frame, ulong destination, ulong source, ulong done, bool retry)
    {
        sq.Holding = true;
        sq.HeldDone = done;
        sq.HeldLength = frame.Length;
        sq.HeldKey = retry ? sq.HeldKey : HoldKey(frame);
        sq.HeldDestination = destination;
        sq.HeldSource = source;
        if (!retry)
        {
            sq.Held++;
        }
    }

    /// <summary>Filters, then delivers one frame to one port.</summary>
    private Egress Deliver(NetSwitchPort from, SenderQueue sq, NetSwitchPort to, in NetFrame frame)
    {
        if (from.IngressFilter is { } ingress && ingress.Inspect(frame, from, to) == NetSwitchFilterVerdict.Drop)
        {
            sq.InFiltered++;
            return Egress.Dropped;
        }

        if (to.EgressFilter is { } egress && egress.Inspect(frame, from, to) == NetSwitchFilterVerdict.Drop)
        {
            sq.OutFiltered[to.Index]++;
            return Egress.Dropped;
        }

        return to.Backend is null ? DeliverToGuest(from, sq, to, frame) : DeliverToBackend(sq, to, frame);
    }

    private Egress DeliverToGuest(NetSwitchPort from, SenderQueue sq, NetSwitchPort to, in NetFrame frame)
    {
        int i = to.Index;
        INetBackendHost? host = to.Host;
        if (host is null || to.IsRemoved)
        {
            sq.OutQueueDown[i]++;
            return Egress.Dropped;
        }

        int hint = to.PeerPair(from.Index);
        if (hint < 0 && _queueAffinity)
        {
            hint = sq.Queue;   // the sender's queue i; the device folds it onto its active pairs (i mod active)
        }

        for (int attempt = 0; ; attempt++)
        {
            NetDeliveryResult result = host.Deliver(hint, frame);
            switch (result.Status)
            {
                case NetDeliveryStatus.Delivered:
                    sq.Touched |= to.Bit;
                    sq.OutFrames[i]++;
                    sq.OutBytes[i] += frame.Length;
                    return Egress.Delivered;
                case NetDeliveryStatus.NoBuffers:
                    if (!_lossless)
                    {
                        sq.OutNoBuffers[i]++;
                        return Egress.Dropped;
                    }

                    // Register the sender as the waiter; "true" means buffers came meanwhile: try again now.
                    sq.WaitFor(to.Bit);
                    if (!host.WaitForReceiveBuffers(result.Queue, sq))
                    {
                        return Egress.Held;
                    }

                    if (attempt >= ImmediateRetries)
                    {
                        sq.Notify();             // no waiter registered: make sure the sender comes back
                        return Egress.Held;
                    }

                    continue;
                case NetDeliveryStatus.Filtered:
                    sq.OutFiltered[i]++;
                    return Egress.Dropped;
                case NetDeliveryStatus.QueueDown:
                    sq.OutQueueDown[i]++;
                    return Egress.Dropped;
                default:
                    sq.OutBadFrame[i]++;
                    return Egress.Dropped;
            }
        }
    }

    private Egress DeliverToBackend(SenderQueue sq, NetSwitchPort to, in NetFrame frame)
    {
        int i = to.Index;
        int bq = sq.Queue % to.QueueCount;
        lock (to.EgressGate(bq))
        {
            if (to.IsRemoved)
            {
                sq.OutQueueDown[i]++;
                return Egress.Dropped;
            }

            for (int attempt = 0; ; attempt++)
            {
                NetTransmitStatus status = to.TransmitToBackend(bq, frame, sq);
                switch (status)
                {
                    case NetTransmitStatus.Sent:
                        sq.Touched |= to.Bit;
                        sq.OutFrames[i]++;
                        sq.OutBytes[i] += frame.Length;
                        return Egress.Delivered;
                    case NetTransmitStatus.Busy:
                        sq.Touched |= to.Bit;    // flush what it has, so it drains
                        if (!_lossless)
                        {
                            sq.OutNoBuffers[i]++;
                            return Egress.Dropped;
                        }

                        if (attempt == 0)
                        {
                            // Register, then try once more: a wake between the busy answer and the registration is not lost.
                            to.RegisterTxWaiter(sq);
                            continue;
                        }

                        return Egress.Held;
                    default:
                        sq.OutBadFrame[i]++;
                        return Egress.Dropped;
                }
            }
        }
    }
}
