using System;
using System.Runtime.CompilerServices;
using System.Threading;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Control;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Net.Rx;
using VirtioRing.Queues;

namespace VirtioRing.Net.Engine;

/// <content>Receive in place: a backend's source writes frames straight into the guest's buffers.</content>
public sealed partial class NetDevice : INetDirectReceiveHost
{
    private byte[]?[]? _directBounce;   // per backend queue: the copy for frames that take the Deliver path

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is not a backend queue, or <paramref name="budget"/> is below 1.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="reader"/> is null.</exception>
    [SkipLocalsInit]
    public NetDirectReceiveResult ReceiveDirect(int queue, INetDirectReader reader, int budget)
    {
        if ((uint)queue >= (uint)Backend.QueueCount)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queue));
        }

        if (reader is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(reader));
        }

        if (budget < 1)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(budget));
        }

        int frames = 0;
        Span<byte> scratch = stackalloc byte[PeekLength];
        while (frames < budget)
        {
            NetControlHandler? control = _control;
            if (!_running || control is null)
            {
                return new NetDirectReceiveResult(NetDirectReceiveStatus.QueueDown, frames, -1);
            }

            int active = _activePairs;
            int q = queue < active ? queue : queue % active;
            ReceiveQueueSlot slot = _rx[q];
            NetControlState state = control.State;
            DirectOutcome outcome;
            VirtioNetHeader header = default;
            int frameLength = 0;
            int target = q;
            bool broke = false;
            lock (slot.Gate)
            {
                if (!slot.Usable)
                {
                    return new NetDirectReceiveResult(NetDirectReceiveStatus.QueueDown, frames, q);
                }

                DirectSegments lent = slot.Lent;
                NetReceiveStatus room = slot.Writer!.Lend(lent);
                if (room == NetReceiveStatus.NoBuffers)
                {
                    return new NetDirectReceiveResult(NetDirectReceiveStatus.NoBuffers, frames, q);
                }

                if (room != NetReceiveStatus.Delivered)
                {
                    slot.Counters.BrokenQueue++;
                    slot.Broken = true;
                    broke = true;
                    outcome = DirectOutcome.Stop;
                }
                else
                {
                    int n = reader.Read(new NetReceiveBuffers(lent, Layout.Size));
                    if (n == 0)
                    {
                        return new NetDirectReceiveResult(NetDirectReceiveStatus.Drained, frames, q);
                    }

                    if (n < 0)
                    {
                        return new NetDirectReceiveResult(NetDirectReceiveStatus.ReaderFailed, frames, q);
                    }

                    frames++;
                    outcome = CompleteLent(slot, lent, n, state, active, scratch, ref header, ref target);
                    if (outcome == DirectOutcome.Copy)
                    {
                        frameLength = n - Layout.Size;
                        byte[] bounce = Bounce(queue);
                        NetReceiveWriter.CopyFromLent(lent, Layout.Size, bounce.AsSpan(0, frameLength));
                    }
                }
            }

            if (broke)
            {
                ReportBroken(slot.QueueIndex, slot.Queue?.Fault ?? VirtqueueFault.None);
                return new NetDirectReceiveResult(NetDirectReceiveStatus.QueueDown, frames, q);
            }

            if (outcome == DirectOutcome.Copy)
            {
                // Offload adaptation or another queue: the general path (it filters, steers by the hint,
                // adapts and counts) from this backend queue's own copy, outside the queue's lock.
                Deliver(target, NetFrame.FromSpan(header, Bounce(queue).AsSpan(0, frameLength)));
            }
        }

        return new NetDirectReceiveResult(NetDirectReceiveStatus.BudgetUsed, frames, -1);
    }

    private byte[] Bounce(int backendQueue)
    {
        byte[]?[] all = _directBounce ?? Interlocked.CompareExchange(ref _directBounce, new byte[Backend.QueueCount][], null) ?? _directBounce!;
        return all[backendQueue] ??= new byte[MaxFrameBytes];
    }

    /// <summary>
    /// Checks and completes a frame the reader wrote into lent buffers (under the queue's lock): length,
    /// header, filter, steering, offloads. Pushes it when the guest can take it as written; else says
    /// whether to drop it or to copy it to the general path (<paramref name="target"/>, <paramref name="header"/>).
    /// </summary>
    private DirectOutcome CompleteLent(ReceiveQueueSlot slot, DirectSegments lent, int written, NetControlState state, int active, Span<byte> scratch, ref VirtioNetHeader header, ref int target)
    {
        NetHeaderLayout layout = Layout;
        int headerSize = layout.Size;
        if (written > lent.Capacity || written < headerSize + 14)
        {
            slot.Counters.BadFrame++;   // cut by the source, or no Ethernet header: the chains stay held for the next frame
            return DirectOutcome.Dropped;
        }

        int frameLength = written - headerSize;
        Span<byte> raw = scratch.Slice(0, headerSize);
        NetReceiveWriter.CopyFromLent(lent, 0, raw);
        if (VirtioNetHeader.TryRead(raw, layout, out VirtioNetHeader h) != NetHeaderError.None)
        {
            slot.Counters.BadFrame++;
            return DirectOutcome.Dropped;
        }

        int peeked = NetReceiveWriter.CopyFromLent(lent, headerSize, scratch.Slice(0, Math.Min(PeekLength, frameLength)));
        ReadOnlySpan<byte> head = scratch.Slice(0, peeked);
        if (state.Accept(head) != ReceiveVerdict.Accept)
        {
            slot.Counters.Filtered++;
            return DirectOutcome.Dropped;
        }

        h.Flags &= NetHeaderFlags.NeedsChecksum | NetHeaderFlags.DataValid;
        header = h;
        NetHashResult hash = default;
        if (state.Steering == ReceiveSteering.Rss && state.Rss is { } config)
        {
            RssDecision d = RssFor(config).Steer(head);
            hash = d.Hash;
            int rssQueue = d.ReceiveQueue < active ? d.ReceiveQueue : d.ReceiveQueue % active;
            if (rssQueue != slot.Pair)
            {
                target = rssQueue;
                return DirectOutcome.Copy;
            }
        }

        if (_hashReport && !hash.IsCalculated && state.HashTypes != NetHashTypes.None)
        {
            hash = HashFor(state).Calculate(head);
        }

        NetOffloads guest = GuestOffloads(state);
        bool guestChecksum = (guest & NetOffloads.Checksum) != 0;
        if (!guestChecksum)
        {
            if ((h.Flags & NetHeaderFlags.NeedsChecksum) != 0)
            {
                return DirectOutcome.Copy;   // §5.1.6.4.1: complete it in software for this guest
            }

            h.Flags = NetHeaderFlags.None;
        }

        if (h.GsoType != NetGsoType.None)
        {
            if (!Carries(guest, h.GsoType, IsIPv6(head)))
            {
                return DirectOutcome.Copy;   // segment in software
            }

            switch (CheckGso(head, h, frameLength))
            {
                case GsoCheck.Bad:
                    slot.Counters.BadFrame++;
                    return DirectOutcome.Dropped;
                case GsoCheck.Unsure:
                    return DirectOutcome.Copy;
            }
        }
        else if (frameLength > slot.Writer!.MaxFrameLength)
        {
            slot.Counters.BadFrame++;
            return DirectOutcome.Dropped;
        }

        NetReceiveWriter writer = slot.Writer!;
        int count = writer.Mode == NetReceiveMode.Mergeable ? writer.CountLent(written) : 1;
        h.NumBuffers = (ushort)count;
        h.HashValue = _hashReport ? hash.Value : 0;
        h.HashReport = _hashReport ? hash.Report : NetHashReport.None;
        h.PaddingReserved = 0;
        Span<byte> complete = scratch.Slice(0, headerSize);
        h.Write(complete, layout);
        NetReceiveWriter.WriteToLent(lent, complete);
        writer.CommitLent(count, written);
        slot.Counters.Packets++;
        slot.Counters.Bytes += frameLength;
        Volatile.Write(ref slot.Dirty, true);
        return DirectOutcome.Delivered;
    }

    private enum DirectOutcome
    {
        Delivered,
        Dropped,
        Copy,
        Stop,
    }
}
