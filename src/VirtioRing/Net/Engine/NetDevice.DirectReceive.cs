using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
    private DirectBounce?[]? _directBounce;   // per backend queue: the copy for frames that take the Deliver path

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

        DirectBounce bounce = Bounce(queue);
        int frames = 0;
        Span<byte> scratch = stackalloc byte[PeekLength];
        while (true)
        {
            // A frame taken from the source but not yet delivered (its queue had no room) goes first: the
            // source has let go of it, so it is offered again until it is placed, never dropped for lack of room.
            if (bounce.Pending)
            {
                NetDeliveryResult r = Deliver(bounce.Target, NetFrame.FromSpan(bounce.Header, bounce.Frame));
                if (r.Status == NetDeliveryStatus.NoBuffers)
                {
                    return new NetDirectReceiveResult(NetDirectReceiveStatus.NoBuffers, frames, r.Queue);
                }

                bounce.Pending = false;
            }

            if (frames >= budget)
            {
                return new NetDirectReceiveResult(NetDirectReceiveStatus.BudgetUsed, frames, -1);
            }

            NetControlHandler? control = _control;
            if (!_running || control is null)
            {
                return new NetDirectReceiveResult(NetDirectReceiveStatus.QueueDown, frames, -1);
            }

            int active = _activePairs;
            int q = queue < active ? queue : queue % active;
            ReceiveQueueSlot slot = _rx[q];
            NetControlState state = control.State;
            int lendFrame = (GuestOffloads(state) & ReceiveGso) != 0 ? NetReceiveWriter.LargeFrameLength : _options.Mtu + ReceiveLinkHeaderBytes;
            bool broke = false;
            lock (slot.Gate)
            {
                if (!slot.Usable)
                {
                    return new NetDirectReceiveResult(NetDirectReceiveStatus.QueueDown, frames, q);
                }

                DirectSegments lent = slot.Lent;
                NetReceiveStatus room = slot.Writer!.Lend(lent, lendFrame, out int returned);
                if (returned > 0)
                {
                    Volatile.Write(ref slot.Dirty, true);   // chains that can never hold a frame, given back empty
                }

                if (room == NetReceiveStatus.NoBuffers && slot.Writer.HeldCount == 0)
                {
                    return new NetDirectReceiveResult(NetDirectReceiveStatus.NoBuffers, frames, q);
                }

                if (room == NetReceiveStatus.QueueBroken)
                {
                    slot.Counters.BrokenQueue++;
                    slot.Broken = true;
                    broke = true;
                }
                else
                {
                    // Room for the longest frame: read in place. Less (the guest posts fewer buffers than a 64 KiB
                    // frame takes, and holding them all did not help): read into this queue's copy and place the
                    // frame by its real size — waiting for more buffers could wait for ever.
                    bool inPlace = room == NetReceiveStatus.Delivered;
                    DirectSegments target = inPlace ? lent : bounce.Segments(Layout.Size);
                    int n = reader.Read(new NetReceiveBuffers(target, Layout.Size));
                    if (n == 0)
                    {
                        return new NetDirectReceiveResult(NetDirectReceiveStatus.Drained, frames, q);
                    }

                    if (n < 0)
                    {
                        return new NetDirectReceiveResult(NetDirectReceiveStatus.ReaderFailed, frames, q);
                    }

                    frames++;
                    if (inPlace)
                    {
                        VirtioNetHeader header = default;
                        int steer = q;
                        if (CompleteLent(slot, lent, n, state, active, scratch, ref header, ref steer) == DirectOutcome.Copy)
                        {
                            int frameLength = n - Layout.Size;
                            NetReceiveWriter.CopyFromLent(lent, Layout.Size, bounce.FrameSpace(frameLength));
                            bounce.Hold(header, frameLength, steer);
                        }
                    }
                    else
                    {
                        HoldBounced(slot, bounce, n, q);
                    }
                }
            }

            if (broke)
            {
                ReportBroken(slot.QueueIndex, slot.Queue?.Fault ?? VirtqueueFault.None);
                return new NetDirectReceiveResult(NetDirectReceiveStatus.QueueDown, frames, q);
            }
        }
    }

    private const NetOffloads ReceiveGso = NetOffloads.Tso4 | NetOffloads.Tso6 | NetOffloads.Ufo | NetOffloads.Uso4 | NetOffloads.Uso6;

    /// <summary>Checks a frame read into the queue's copy (lengths, header) and holds it for the Deliver path (under the queue's lock).</summary>
    private void HoldBounced(ReceiveQueueSlot slot, DirectBounce bounce, int written, int q)
    {
        NetHeaderLayout layout = Layout;
        if (written > DirectBounce.Capacity(layout.Size) || written < layout.Size + 14)
        {
            slot.Counters.BadFrame++;
            return;
        }

        if (VirtioNetHeader.TryRead(bounce.HeaderBytes(layout.Size), layout, out VirtioNetHeader h) != NetHeaderError.None)
        {
            slot.Counters.BadFrame++;
            return;
        }

        h.Flags &= NetHeaderFlags.NeedsChecksum | NetHeaderFlags.DataValid;
        bounce.Hold(h, written - layout.Size, q);
    }

    private DirectBounce Bounce(int backendQueue)
    {
        DirectBounce?[] all = _directBounce ?? Interlocked.CompareExchange(ref _directBounce, new DirectBounce?[Backend.QueueCount], null) ?? _directBounce!;
        return all[backendQueue] ??= new DirectBounce();
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

    /// <summary>
    /// One backend queue's copy of a frame that takes the Deliver path, and the frame held there until it is placed.
    /// Pinned, because a reader may fill it by address like guest memory. Used by the backend queue's one thread.
    /// </summary>
    private sealed class DirectBounce
    {
        private const int MaxHeader = NetHeaderLayout.HashReportSize;
        private readonly byte[] _bytes = new byte[MaxHeader + MaxFrameBytes];
        private readonly DirectSegments _segments = new();
        private GCHandle _pin;
        private int _frameOffset;
        private int _frameLength;

        public DirectBounce()
        {
            _pin = GCHandle.Alloc(_bytes, GCHandleType.Pinned);
        }

        ~DirectBounce()
        {
            if (_pin.IsAllocated)
            {
                _pin.Free();
            }
        }

        public bool Pending { get; set; }

        public VirtioNetHeader Header { get; private set; }

        public int Target { get; private set; }

        public ReadOnlySpan<byte> Frame => _bytes.AsSpan(_frameOffset, _frameLength);

        public static int Capacity(int headerSize) => headerSize + MaxFrameBytes;

        public ReadOnlySpan<byte> HeaderBytes(int headerSize) => _bytes.AsSpan(0, headerSize);

        /// <summary>The whole copy as one segment, for a reader to fill (header first).</summary>
        public DirectSegments Segments(int headerSize)
        {
            _segments.Clear();
            _segments.Address[0] = _pin.AddrOfPinnedObject();
            _segments.Length[0] = headerSize + MaxFrameBytes;
            _segments.Count = 1;
            _segments.Capacity = headerSize + MaxFrameBytes;
            _frameOffset = headerSize;
            return _segments;
        }

        /// <summary>Room for a frame copied out of lent buffers.</summary>
        public Span<byte> FrameSpace(int length)
        {
            _frameOffset = MaxHeader;
            return _bytes.AsSpan(MaxHeader, length);
        }

        public void Hold(in VirtioNetHeader header, int length, int target)
        {
            Header = header;
            _frameLength = length;
            Target = target;
            Pending = true;
        }
    }

    private enum DirectOutcome
    {
        Delivered,
        Dropped,
        Copy,
    }
}
