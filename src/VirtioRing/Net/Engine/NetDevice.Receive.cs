using System;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Threading;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Control;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Net.Offload;
using VirtioRing.Net.Rx;
using VirtioRing.Queues;

namespace VirtioRing.Net.Engine;

public sealed partial class NetDevice
{
    private CalculatorCache? _rssCache;
    private CalculatorCache? _hashCache;

    /// <inheritdoc/>
    public NetOffloads ReceiveOffloads => ToOffloads(_control?.State.GuestOffloads ?? _negotiated);

    /// <summary>
    /// Delivers a frame to the guest (any thread): receive filter (§5.1.6.5.1–3), queue steering (the
    /// hint folded onto the active pairs; else RSS §5.1.6.5.7; else automatic steering §5.1.6.5.6;
    /// else queue 0), offload adaptation for this guest, the hash report (§5.1.6.4.4) when
    /// negotiated, then one copy into the queue's buffers. Visible to the guest at the next
    /// <see cref="FlushDeliveries"/>.
    /// </summary>
    /// <param name="queueHint">The receive queue (pair index) to use, or -1 to steer.</param>
    /// <param name="frame">The frame.</param>
    /// <returns>
    /// The outcome and the receive queue (pair index). A GSO frame segmented for this guest is
    /// delivered whole or not at all: when the queue has no room for every segment the answer is
    /// <see cref="NetDeliveryStatus.NoBuffers"/> and nothing is written (a lossless sender retries
    /// it). Only a frame with more segments than the ring can ever hold at once is written as far as
    /// buffers go, the frame counted as <see cref="NetQueueCounters.BadFrame"/> (its other segments are lost).
    /// A GSO frame passed whole to a guest that accepted the offload must look like what its
    /// <c>gso_type</c> says (IP version and transport protocol, <c>csum_start</c> at the transport
    /// header, <c>NEEDS_CSUM</c>); else it is <see cref="NetDeliveryStatus.BadFrame"/>.
    /// A delivery that finds its queue stopped by a concurrent change of the pair count is steered
    /// again over the new set.
    /// </returns>
    [SkipLocalsInit]   // the peek scratch is written before it is read; zeroing 256 bytes per frame was measurable
    public NetDeliveryResult Deliver(int queueHint, in NetFrame frame)
    {
        NetControlHandler? control = _control;
        if (!_running || control is null)
        {
            return new NetDeliveryResult(NetDeliveryStatus.QueueDown, -1);
        }

        NetControlState state = control.State;
        Span<byte> scratch = stackalloc byte[PeekLength];
        ReadOnlySpan<byte> head = frame.Peek(PeekLength, scratch);
        int active = _activePairs;
        int q = Steer(queueHint, head, state, active, out NetHashResult hash);
        ReceiveQueueSlot slot = _rx[q];
        NetDeliveryResult result;
        bool broke = false;
        for (int attempt = 1; q != 0 && attempt <= 2 && _running && !Volatile.Read(ref slot.Active); attempt++)
        {
            // The pair left the active set between reading the count and getting here: steer over
            // the current set (bounded: the second time pair 0, which is active while the device runs).
            q = attempt == 1 ? Steer(queueHint, head, state, _activePairs, out hash) : 0;
            slot = _rx[q];
        }

        lock (slot.Gate)
        {
            if (!slot.Active && q != 0)
            {
                // A concurrent pair change (SetActivePairs, VQ_PAIRS_SET) stopped this pair, or has not started it
                // yet, after steering chose it: pair 0 is active whenever the device runs, so go there rather than
                // drop the frame (QueueDown would lose it even in lossless mode). Taken below, outside this gate.
                result = new NetDeliveryResult(NetDeliveryStatus.QueueDown, -1);
            }
            else if (!slot.Usable)
            {
                result = new NetDeliveryResult(NetDeliveryStatus.QueueDown, q);
            }
            else if (state.Accept(head) != ReceiveVerdict.Accept)
            {
                slot.Counters.Filtered++;
                result = new NetDeliveryResult(NetDeliveryStatus.Filtered, q);
            }
            else
            {
                result = new NetDeliveryResult(DeliverLocked(slot, frame, head, state, hash, ref broke), q);
            }
        }

        if (broke)
        {
            ReportBroken(slot.QueueIndex, slot.Queue?.Fault ?? VirtqueueFault.None);
        }

        return result.Queue == -1 && q != 0 ? Deliver(0, frame) : result;
    }

    /// <inheritdoc/>
    public void FlushDeliveries()
    {
        ReceiveQueueSlot[] rx = _rx;
        for (int i = 0; i < rx.Length; i++)
        {
            ReceiveQueueSlot slot = rx[i];
            if (!Volatile.Read(ref slot.Dirty))
            {
                continue;
            }

            bool notify;
            lock (slot.Gate)
            {
                notify = slot.PublishLocked();
            }

            if (notify)
            {
                slot.Call?.Notify();
            }
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is not below <see cref="MaxQueuePairs"/>.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="waiter"/> is null.</exception>
    public bool WaitForReceiveBuffers(int queue, INotifier waiter)
    {
        if ((uint)queue >= (uint)MaxQueuePairs)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queue));
        }

        if (waiter is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(waiter));
        }

        ReceiveQueueSlot slot = _rx[queue];
        lock (slot.Gate)
        {
            if (!_running || !slot.Usable)
            {
                return true;   // retry now: the delivery answers QueueDown instead of waiting forever
            }

            slot.AddWaiter(waiter);

            // Enable-and-recheck: ask the driver to kick on new buffers, then look once more, so a
            // buffer added meanwhile is not missed (§2.7.10, §2.8.10).
            if (slot.Queue!.EnableNotifications())
            {
                slot.RemoveWaiter(waiter);
                return true;
            }

            return false;
        }
    }

    internal static bool IsIPv6(ReadOnlySpan<byte> frame)
    {
        int offset = 12;
        for (int tags = 0; tags < 2 && frame.Length >= offset + 2; tags++)
        {
            ushort t = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(offset));
            if (t is not (0x8100 or 0x88A8))
            {
                break;
            }

            offset += 4;
        }

        return frame.Length >= offset + 2 && BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(offset)) == 0x86DD;
    }

    /// <summary>Whether offloads <paramref name="carried"/> cover a GSO type (with its ECN bit).</summary>
    internal static bool Carries(NetOffloads carried, NetGsoType gso, bool ipv6)
    {
        if ((gso & NetGsoType.Ecn) != 0 && (carried & NetOffloads.Ecn) == 0)
        {
            return false;
        }

        NetOffloads needed = (NetGsoType)((byte)gso & 0x7F) switch
        {
            NetGsoType.TcpV4 => NetOffloads.Tso4,
            NetGsoType.TcpV6 => NetOffloads.Tso6,
            NetGsoType.Udp => NetOffloads.Ufo,
            NetGsoType.UdpL4 => ipv6 ? NetOffloads.Uso6 : NetOffloads.Uso4,
            _ => (NetOffloads)(-1),
        };
        return (carried & needed) == needed && (carried & NetOffloads.Checksum) != 0;
    }

    /// <summary>Gets whether automatic receive steering was ever negotiated (<see cref="RecordTransmit"/> has work only then).</summary>
    internal bool AutomaticSteeringUsed => _automaticUsed;

    [SkipLocalsInit]
    internal void RecordTransmit(in DescriptorChain chain, uint offset, int length, int pair)
    {
        if (!_automaticUsed)
        {
            return;
        }

        NetControlHandler? control = _control;
        if (control is null || control.State.Steering != ReceiveSteering.Automatic)
        {
            return;
        }

        Span<byte> head = stackalloc byte[PeekLength];
        int n = chain.CopyFromReadable(offset, head.Slice(0, Math.Min(PeekLength, length)));
        _automatic.RecordTransmit(head.Slice(0, n), (ushort)pair);
    }

    private static ReadOnlySpan<byte> SpanOf(scoped in NetFrame frame)
    {
        foreach (ReadOnlySpan<byte> piece in frame.GetSegments())
        {
            return piece;   // a span frame is one piece
        }

        return default;
    }

    private static NetOffloads GuestOffloads(NetControlState state) => ToOffloads(state.GuestOffloads);

    private static NetOffloads ToOffloads(NetFeatures g)
    {
        NetOffloads o = NetOffloads.None;
        o |= (g & NetFeatures.GuestCsum) != 0 ? NetOffloads.Checksum : NetOffloads.None;
        o |= (g & NetFeatures.GuestTso4) != 0 ? NetOffloads.Tso4 : NetOffloads.None;
        o |= (g & NetFeatures.GuestTso6) != 0 ? NetOffloads.Tso6 : NetOffloads.None;
        o |= (g & NetFeatures.GuestUfo) != 0 ? NetOffloads.Ufo : NetOffloads.None;
        o |= (g & NetFeatures.GuestUso4) != 0 ? NetOffloads.Uso4 : NetOffloads.None;
        o |= (g & NetFeatures.GuestUso6) != 0 ? NetOffloads.Uso6 : NetOffloads.None;
        o |= (g & NetFeatures.GuestEcn) != 0 ? NetOffloads.Ecn : NetOffloads.None;
        return o;
    }

    private int Steer(int hint, ReadOnlySpan<byte> head, NetControlState state, int active, out NetHashResult hash)
    {
        hash = default;
        int q;
        if (hint >= 0)
        {
            q = hint < active ? hint : hint % active;
        }
        else if (state.Steering == ReceiveSteering.Rss && state.Rss is { } config)
        {
            RssDecision d = RssFor(config).Steer(head);
            hash = d.Hash;
            q = d.ReceiveQueue < active ? d.ReceiveQueue : d.ReceiveQueue % active;
        }
        else if (_automaticUsed && active > 1)
        {
            q = _automatic.SelectReceiveQueue(head);
            if (q >= active)
            {
                q %= active;
            }
        }
        else
        {
            q = 0;
        }

        if (_hashReport && !hash.IsCalculated && state.HashTypes != NetHashTypes.None)
        {
            hash = HashFor(state).Calculate(head);
        }

        return q;
    }

    private RssSteering RssFor(RssConfiguration config)
    {
        CalculatorCache? c = Volatile.Read(ref _rssCache);
        if (c is null || !ReferenceEquals(c.Key, config))
        {
            c = new CalculatorCache(config, new RssSteering(config), null);
            Volatile.Write(ref _rssCache, c);
        }

        return c.Steering!;
    }

    private NetHashCalculator HashFor(NetControlState state)
    {
        CalculatorCache? c = Volatile.Read(ref _hashCache);
        if (c is null || !ReferenceEquals(c.Key, state))
        {
            c = new CalculatorCache(state, null, new NetHashCalculator(state.HashTypes, state.HashKey.Span));
            Volatile.Write(ref _hashCache, c);
        }

        return c.Calculator!;
    }

    private NetDeliveryStatus DeliverLocked(ReceiveQueueSlot slot, in NetFrame frame, ReadOnlySpan<byte> head, NetControlState state, NetHashResult hash, ref bool broke)
    {
        NetReceiveWriter writer = slot.Writer!;
        NetOffloads guest = GuestOffloads(state);
        bool guestChecksum = (guest & NetOffloads.Checksum) != 0;
        VirtioNetHeader h = frame.Header;
        h.Flags &= NetHeaderFlags.NeedsChecksum | NetHeaderFlags.DataValid;   // RSC_INFO and the rest are not the sender's to set
        h.NumBuffers = 0;
        h.HashValue = _hashReport ? hash.Value : 0;
        h.HashReport = _hashReport ? hash.Report : NetHashReport.None;
        h.PaddingReserved = 0;
        if (frame.Length > MaxFrameBytes)
        {
            slot.Counters.BadFrame++;
            return NetDeliveryStatus.BadFrame;
        }

        if (h.GsoType != NetGsoType.None)
        {
            if (!Carries(guest, h.GsoType, IsIPv6(head)))
            {
                return SegmentLocked(slot, frame, h, guestChecksum, ref broke);
            }

            switch (CheckGso(head, h, frame.Length))
            {
                case GsoCheck.Bad:
                    slot.Counters.BadFrame++;
                    return NetDeliveryStatus.BadFrame;
                case GsoCheck.Unsure:
                    // Headers past the peek (IPv6 extension headers): segment in software, which parses everything.
                    return SegmentLocked(slot, frame, h, guestChecksum, ref broke);
            }
        }

        ReadOnlySpan<byte> bytes;
        if ((h.Flags & NetHeaderFlags.NeedsChecksum) != 0 && !guestChecksum)
        {
            // §5.1.6.4.1: without GUEST_CSUM the device delivers complete checksums and flags 0.
            Span<byte> copy = slot.Gather.AsSpan(0, frame.Length);
            frame.CopyTo(copy);
            if (ChecksumOffload.TryCompleteChecksum(copy, h.ChecksumStart, h.ChecksumOffset) != OffloadError.None)
            {
                slot.Counters.BadFrame++;
                return NetDeliveryStatus.BadFrame;
            }

            h.Flags = NetHeaderFlags.None;
            h.ChecksumStart = 0;
            h.ChecksumOffset = 0;
            bytes = copy;
        }
        else
        {
            if (!guestChecksum)
            {
                h.Flags = NetHeaderFlags.None;
            }

            if (frame.IsChain)
            {
                return Finish(slot, writer.Deliver(h, frame.Chain, frame.ChainOffset, frame.Length), frame, h, ref broke);
            }

            bytes = SpanOf(frame);
        }

        return FinishSpan(slot, writer.Deliver(h, bytes), bytes, h, ref broke);
    }

    /// <summary>
    /// Checks the headers of a GSO frame passed whole to a guest against its virtio-net header, from
    /// the peeked prefix: the IP version and transport protocol <c>gso_type</c> names, not an IPv4
    /// fragment, <c>NEEDS_CSUM</c> with <c>csum_start</c> at the transport header and
    /// <c>csum_offset</c> at its checksum, a non-zero <c>gso_size</c>, <c>hdr_len</c> inside the frame.
    /// </summary>
    internal static GsoCheck CheckGso(ReadOnlySpan<byte> head, in VirtioNetHeader h, int frameLength)
    {
        if ((h.Flags & NetHeaderFlags.NeedsChecksum) == 0 || h.GsoSize == 0 || h.HeaderLength > frameLength)
        {
            return GsoCheck.Bad;
        }

        int offset = 12;
        for (int tags = 0; tags < 2 && head.Length >= offset + 2; tags++)
        {
            ushort t = BinaryPrimitives.ReadUInt16BigEndian(head.Slice(offset));
            if (t is not (0x8100 or 0x88A8))
            {
                break;
            }

            offset += 4;
        }

        if (head.Length < offset + 2)
        {
            return GsoCheck.Bad;   // the peek holds 256 bytes: a frame this short has no IP header
        }

        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(head.Slice(offset));
        int l3 = offset + 2;
        bool v6;
        int l4;
        byte protocol;
        if (etherType == 0x0800)
        {
            if (head.Length < l3 + 20 || head[l3] >> 4 != 4)
            {
                return GsoCheck.Bad;
            }

            int ihl = (head[l3] & 0xF) * 4;
            if (ihl < 20 || (BinaryPrimitives.ReadUInt16BigEndian(head.Slice(l3 + 6)) & 0x3FFF) != 0)
            {
                return GsoCheck.Bad;   // a bad header length, or a fragment (MF or an offset)
            }

            v6 = false;
            protocol = head[l3 + 9];
            l4 = l3 + ihl;
        }
        else if (etherType == 0x86DD)
        {
            if (head.Length < l3 + 40 || head[l3] >> 4 != 6)
            {
                return GsoCheck.Bad;
            }

            v6 = true;
            protocol = head[l3 + 6];
            l4 = l3 + 40;
            if (protocol is not (6 or 17))
            {
                return GsoCheck.Unsure;   // extension headers: the full parser decides
            }
        }
        else
        {
            return GsoCheck.Bad;
        }

        bool tcp;
        switch ((NetGsoType)((byte)h.GsoType & 0x7F))
        {
            case NetGsoType.TcpV4:
                tcp = true;
                if (v6 || protocol != 6)
                {
                    return GsoCheck.Bad;
                }

                break;
            case NetGsoType.TcpV6:
                tcp = true;
                if (!v6 || protocol != 6)
                {
                    return GsoCheck.Bad;
                }

                break;
            case NetGsoType.Udp:
            case NetGsoType.UdpL4:
                tcp = false;
                if (protocol != 17)
                {
                    return GsoCheck.Bad;
                }

                break;
            default:
                return GsoCheck.Bad;
        }

        if (h.ChecksumStart != l4 || h.ChecksumOffset != (tcp ? 16 : 6))
        {
            return GsoCheck.Bad;
        }

        if (tcp)
        {
            if (head.Length < l4 + 20)
            {
                return GsoCheck.Unsure;
            }

            int dataOffset = (head[l4 + 12] >> 4) * 4;
            if (dataOffset < 20 || l4 + dataOffset > frameLength)
            {
                return GsoCheck.Bad;
            }
        }
        else if (l4 + 8 > frameLength)
        {
            return GsoCheck.Bad;
        }

        return GsoCheck.Ok;
    }

    private static NetDeliveryStatus Finish(ReceiveQueueSlot slot, NetReceiveResult r, in NetFrame frame, in VirtioNetHeader h, ref bool broke)
    {
        if (r.Status == NetReceiveStatus.NoBuffers && slot.Queue!.EnableNotifications())
        {
            r = slot.Writer!.Deliver(h, frame.Chain, frame.ChainOffset, frame.Length);   // buffers appeared meanwhile
        }

        return Account(slot, r, frame.Length, ref broke);
    }

    private static NetDeliveryStatus FinishSpan(ReceiveQueueSlot slot, NetReceiveResult r, ReadOnlySpan<byte> bytes, in VirtioNetHeader h, ref bool broke)
    {
        if (r.Status == NetReceiveStatus.NoBuffers && slot.Queue!.EnableNotifications())
        {
            r = slot.Writer!.Deliver(h, bytes);
        }

        return Account(slot, r, bytes.Length, ref broke);
    }

    private static NetDeliveryStatus Account(ReceiveQueueSlot slot, NetReceiveResult r, int length, ref bool broke)
    {
        switch (r.Status)
        {
            case NetReceiveStatus.Delivered:
                slot.Counters.Packets++;
                slot.Counters.Bytes += length;
                Volatile.Write(ref slot.Dirty, true);
                return NetDeliveryStatus.Delivered;
            case NetReceiveStatus.NoBuffers:
                // EnableNotifications above left kicks on: the driver's next refill kicks us.
                slot.Counters.NoBuffer++;
                return NetDeliveryStatus.NoBuffers;
            case NetReceiveStatus.FrameTooLarge:
                slot.Counters.BadFrame++;
                return NetDeliveryStatus.BadFrame;
            default:
                slot.Counters.BrokenQueue++;
                slot.Broken = true;
                broke = true;
                return NetDeliveryStatus.QueueDown;
        }
    }

    private static NetDeliveryStatus SegmentLocked(ReceiveQueueSlot slot, in NetFrame frame, VirtioNetHeader h, bool guestChecksum, ref bool broke)
    {
        ReadOnlySpan<byte> source;
        if (frame.IsChain)
        {
            Span<byte> copy = slot.Gather.AsSpan(0, frame.Length);
            frame.CopyTo(copy);
            source = copy;
        }
        else
        {
            source = SpanOf(frame);
        }

        var request = SegmentationRequest.FromHeader((byte)h.GsoType, h.GsoSize, h.HeaderLength);
        if (SoftwareSegmentation.TryPlan(source, request, out SegmentationPlan plan) != OffloadError.None)
        {
            slot.Counters.BadFrame++;
            return NetDeliveryStatus.BadFrame;
        }

        // Lossless: room for every segment first, or nothing is written (the sender retries the
        // whole frame; delivering some segments and refusing the rest would lose or duplicate them).
        int count = plan.SegmentCount;
        int last = plan.SegmentLength(count - 1);
        NetReceiveStatus room = slot.Writer!.ReserveFrames(count, plan.MaxSegmentLength, last);
        if (room == NetReceiveStatus.NoBuffers && slot.Queue!.EnableNotifications())
        {
            room = slot.Writer.ReserveFrames(count, plan.MaxSegmentLength, last);   // buffers appeared meanwhile
        }

        if (room is NetReceiveStatus.NoBuffers or NetReceiveStatus.QueueBroken)
        {
            return Account(slot, new NetReceiveResult(room, 0, 0), 0, ref broke);
        }

        // Delivered: all fit. FrameTooLarge: more segments than the ring can hold at once or a segment
        // too long for one buffer; written as far as it goes below (the writer refuses what cannot fit).
        VirtioNetHeader segmentHeader = default;
        segmentHeader.Flags = guestChecksum ? NetHeaderFlags.DataValid : NetHeaderFlags.None;   // segments carry complete checksums
        segmentHeader.HashValue = h.HashValue;
        segmentHeader.HashReport = h.HashReport;
        var sink = new ReceiveSegmentSink(slot, segmentHeader);
        OffloadError e = SoftwareSegmentation.TrySegment(source, plan, ref sink, out _);
        if (sink.Delivered > 0)
        {
            if (sink.Failure != NetReceiveStatus.Delivered)
            {
                slot.Counters.BadFrame++;   // more segments than the ring holds at once: the rest are lost, not refused
                if (sink.Failure == NetReceiveStatus.QueueBroken)
                {
                    slot.Counters.BrokenQueue++;
                    slot.Broken = true;
                    broke = true;
                }
            }

            return NetDeliveryStatus.Delivered;
        }

        if (sink.Failure != NetReceiveStatus.Delivered)
        {
            if (sink.Failure == NetReceiveStatus.NoBuffers)
            {
                slot.Queue!.EnableNotifications();
            }

            return Account(slot, new NetReceiveResult(sink.Failure, 0, 0), 0, ref broke);
        }

        _ = e;
        slot.Counters.BadFrame++;
        return NetDeliveryStatus.BadFrame;
    }

    /// <summary>Writes each segment into the receive queue as it is made.</summary>
    private struct ReceiveSegmentSink : ISegmentSink
    {
        private readonly ReceiveQueueSlot _slot;
        private readonly VirtioNetHeader _header;

        public ReceiveSegmentSink(ReceiveQueueSlot slot, VirtioNetHeader header)
        {
            _slot = slot;
            _header = header;
            Delivered = 0;
            Failure = NetReceiveStatus.Delivered;
        }

        public int Delivered { get; private set; }

        public NetReceiveStatus Failure { get; private set; }

        public readonly Span<byte> GetBuffer(int index, int length) =>
            Failure != NetReceiveStatus.Delivered || length > MaxFrameBytes ? default : _slot.Segment.AsSpan(0, length);

        public void Complete(int index, int length)
        {
            Span<byte> segment = _slot.Segment.AsSpan(0, length);
            NetReceiveResult r = _slot.Writer!.Deliver(_header, segment);
            if (r.Status != NetReceiveStatus.Delivered)
            {
                Failure = r.Status;
                return;
            }

            Delivered++;
            _slot.Counters.Packets++;
            _slot.Counters.Bytes += length;
            Volatile.Write(ref _slot.Dirty, true);
        }
    }

    private sealed class CalculatorCache(object key, RssSteering? steering, NetHashCalculator? calculator)
    {
        public object Key { get; } = key;

        public RssSteering? Steering { get; } = steering;

        public NetHashCalculator? Calculator { get; } = calculator;
    }

    /// <summary>What <see cref="CheckGso"/> found.</summary>
    internal enum GsoCheck
    {
        /// <summary>The headers match the GSO fields.</summary>
        Ok,

        /// <summary>They do not: the frame is refused.</summary>
        Bad,

        /// <summary>The peek cannot tell (extension headers): segment in software, which validates fully.</summary>
        Unsure,
    }
}
