using System;
using System.Buffers.Binary;
using System.Diagnostics;

namespace VirtioRing.Net.Offload;

/// <summary>
/// Segmentation offload in software (GSO) for a backend that cannot do it: cuts a TSO4, TSO6, USO (<c>UDP_L4</c>) or UFO
/// super-frame a driver sent (virtio 1.2 §5.1.6.2) into frames of at most <c>gso_size</c> payload bytes each, with every
/// header and checksum made right, into buffers the caller provides. Allocation-free; never throws for a bad frame.
/// </summary>
/// <remarks>
/// <para><b>Trust.</b> The headers are parsed and checked (Ethernet with up to two VLAN tags, IPv4 or IPv6, TCP or UDP);
/// <c>hdr_len</c> is never used to find them (§5.1.6.2.2: a device "MUST NOT rely on hdr_len to be correct") — it must only
/// lie inside the frame, and equal the parsed length when <see cref="SegmentationRequest.HeaderLengthIsExact"/>. As in Linux
/// GSO, the frame length is authoritative: the super-frame's IPv4 total length, IPv6 payload length and UDP length are
/// rewritten per segment. If the driver changes the frame while it is segmented, each segment's checksums still match what
/// was written (they are computed over the output), except UFO's, which covers the whole datagram.</para>
/// <para><b>TSO4/TSO6</b> (as Linux <c>tcp_gso_segment</c>): each segment gets the headers, its share of the payload, the
/// IPv4 total length, an incrementing IPv4 identification and a new header checksum (IPv6: payload length), the sequence
/// number advanced by the payload before it, FIN and PSH only on the last segment, CWR only on the first, and a full TCP
/// checksum. The urgent pointer is copied as is.</para>
/// <para><b>USO</b> (<c>UDP_L4</c>): each segment is a whole UDP datagram: its own UDP length and checksum; IPv4
/// identification incrementing.</para>
/// <para><b>UFO</b> (<c>UDP</c>): the UDP checksum is computed over the whole datagram, then the IP payload (UDP header and
/// data) is cut into fragments of <c>gso_size</c> rounded down to 8 bytes. IPv4: same identification, fragment offset, MF on
/// all but the last, DF cleared (as Linux <c>inet_gso_segment</c>); IPv4 options are copied into every fragment. IPv6: a
/// fragment header (identification <see cref="SegmentationRequest.IPv6FragmentId"/>) after the IPv6 header; extension
/// headers are refused for UFO.</para>
/// <para><b>Receive coalescing (GRO/RSC) is not done</b>: a device that receives many small segments hands them to the
/// driver one by one (it is optional in virtio; <c>VIRTIO_NET_F_GUEST_TSO*</c> need not be offered).</para>
/// </remarks>
public static class SoftwareSegmentation
{
    private const int MaxIPLength = 65535;

    /// <summary>Validates a super-frame and works out its segments, without writing anything.</summary>
    /// <param name="frame">The super-frame, from its Ethernet header (the virtio-net header is not part of it).</param>
    /// <param name="request">The header's segmentation fields.</param>
    /// <param name="plan">The segments, when the result is <see cref="OffloadError.None"/>.</param>
    /// <returns><see cref="OffloadError.None"/>, or why the frame cannot be segmented.</returns>
    public static OffloadError TryPlan(ReadOnlySpan<byte> frame, in SegmentationRequest request, out SegmentationPlan plan)
    {
        plan = default;
        SegmentationKind kind = request.Kind;
        if (kind is not (SegmentationKind.TcpV4 or SegmentationKind.TcpV6 or SegmentationKind.Udp or SegmentationKind.UdpL4))
        {
            return OffloadError.UnsupportedSegmentationKind;
        }

        if (request.SegmentSize == 0)
        {
            return OffloadError.BadSegmentSize;
        }

        OffloadError error = FrameLayout.TryParse(frame, out FrameLayout layout);
        if (error != OffloadError.None)
        {
            return error;
        }

        bool tcp = kind is SegmentationKind.TcpV4 or SegmentationKind.TcpV6;
        bool protocolMatches = kind switch
        {
            SegmentationKind.TcpV4 => layout.IPVersion == 4 && layout.Protocol == InternetChecksum.ProtocolTcp,
            SegmentationKind.TcpV6 => layout.IPVersion == 6 && layout.Protocol == InternetChecksum.ProtocolTcp,
            _ => layout.Protocol == InternetChecksum.ProtocolUdp,
        };
        if (!protocolMatches)
        {
            return OffloadError.ProtocolMismatch;
        }

        if (layout.IsFragment)
        {
            return OffloadError.IPFragment;
        }

        if (layout.HasIPv6Routing)
        {
            return OffloadError.UnsupportedIPv6ExtensionHeader;
        }

        Debug.Assert(layout.L4HeaderLength != 0, "a whole TCP or UDP packet has its transport header parsed");
        if (request.HeaderLength > frame.Length)
        {
            return OffloadError.HeaderLengthPastFrame;
        }

        if (request.HeaderLengthIsExact && request.HeaderLength != layout.PayloadOffset)
        {
            return OffloadError.HeaderLengthMismatch;
        }

        int l3 = layout.L3Offset, l4 = layout.L4Offset;
        ReadOnlySpan<byte> ip = frame.Slice(l3);
        var common = new SegmentationPlan
        {
            Kind = kind,
            FrameLength = frame.Length,
            IPVersion = layout.IPVersion,
            L3Offset = l3,
            L4Offset = l4,
            FirstIPv4Id = layout.IPVersion == 4 ? BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(4)) : (ushort)0,
            AddressSum = ChecksumOffload.PseudoHeaderNative(frame, layout, 0),
        };

        return kind == SegmentationKind.Udp
            ? PlanFragments(frame, layout, request, common, out plan)
            : PlanSegments(frame, layout, request, tcp, common, out plan);
    }

    /// <summary>Segments a super-frame into buffers a sink provides.</summary>
    /// <typeparam name="TSink">The sink; a struct avoids allocation and dispatch.</typeparam>
    /// <param name="frame">The super-frame.</param>
    /// <param name="request">The header's segmentation fields.</param>
    /// <param name="sink">Where segments go.</param>
    /// <param name="segmentCount">How many segments were completed.</param>
    /// <returns><see cref="OffloadError.None"/>; a validation error (nothing written); or
    /// <see cref="OffloadError.OutputTooSmall"/> when the sink ran out (the first <paramref name="segmentCount"/> segments
    /// were completed).</returns>
    public static OffloadError TrySegment<TSink>(ReadOnlySpan<byte> frame, in SegmentationRequest request, ref TSink sink, out int segmentCount)
        where TSink : ISegmentSink
    {
        segmentCount = 0;
        OffloadError error = TryPlan(frame, request, out SegmentationPlan plan);
        return error != OffloadError.None ? error : TrySegment(frame, plan, ref sink, out segmentCount);
    }

    /// <summary>Segments a super-frame that was already planned into buffers a sink provides.</summary>
    /// <typeparam name="TSink">The sink; a struct avoids allocation and dispatch.</typeparam>
    /// <param name="frame">The super-frame the plan was made for.</param>
    /// <param name="plan">The plan from <see cref="TryPlan"/>.</param>
    /// <param name="sink">Where segments go.</param>
    /// <param name="segmentCount">How many segments were completed.</param>
    /// <returns><see cref="OffloadError.None"/>, or <see cref="OffloadError.OutputTooSmall"/>.</returns>
    /// <exception cref="ArgumentException">The frame's length is not the planned one, or the plan is empty.</exception>
    public static OffloadError TrySegment<TSink>(ReadOnlySpan<byte> frame, in SegmentationPlan plan, ref TSink sink, out int segmentCount)
        where TSink : ISegmentSink
    {
        CheckPlan(frame, plan);
        segmentCount = 0;
        for (int i = 0; i < plan.SegmentCount; i++)
        {
            int length = plan.SegmentLength(i);
            Span<byte> buffer = sink.GetBuffer(i, length);
            if (buffer.Length < length)
            {
                return OffloadError.OutputTooSmall;
            }

            WriteSegment(frame, plan, i, buffer.Slice(0, length));
            sink.Complete(i, length);
            segmentCount++;
        }

        return OffloadError.None;
    }

    /// <summary>Segments a super-frame into one contiguous buffer, segment after segment.</summary>
    /// <param name="frame">The super-frame.</param>
    /// <param name="request">The header's segmentation fields.</param>
    /// <param name="output">Where the segments go, back to back; at least <see cref="SegmentationPlan.TotalLength"/> bytes.</param>
    /// <param name="segmentLengths">Receives each segment's length; at least <see cref="SegmentationPlan.SegmentCount"/> long.</param>
    /// <param name="segmentCount">How many segments were written.</param>
    /// <returns><see cref="OffloadError.None"/>; a validation error; or <see cref="OffloadError.OutputTooSmall"/> (checked
    /// before anything is written).</returns>
    public static OffloadError TrySegment(ReadOnlySpan<byte> frame, in SegmentationRequest request, Span<byte> output, Span<int> segmentLengths, out int segmentCount)
    {
        segmentCount = 0;
        OffloadError error = TryPlan(frame, request, out SegmentationPlan plan);
        return error != OffloadError.None ? error : TrySegment(frame, plan, output, segmentLengths, out segmentCount);
    }

    /// <summary>Segments a super-frame that was already planned into one contiguous buffer.</summary>
    /// <param name="frame">The super-frame the plan was made for.</param>
    /// <param name="plan">The plan from <see cref="TryPlan"/>.</param>
    /// <param name="output">Where the segments go, back to back.</param>
    /// <param name="segmentLengths">Receives each segment's length.</param>
    /// <param name="segmentCount">How many segments were written.</param>
    /// <returns><see cref="OffloadError.None"/>, or <see cref="OffloadError.OutputTooSmall"/> (nothing written).</returns>
    /// <exception cref="ArgumentException">The frame's length is not the planned one, or the plan is empty.</exception>
    public static OffloadError TrySegment(ReadOnlySpan<byte> frame, in SegmentationPlan plan, Span<byte> output, Span<int> segmentLengths, out int segmentCount)
    {
        CheckPlan(frame, plan);
        segmentCount = 0;
        if (output.Length < plan.TotalLength || segmentLengths.Length < plan.SegmentCount)
        {
            return OffloadError.OutputTooSmall;
        }

        int at = 0;
        for (int i = 0; i < plan.SegmentCount; i++)
        {
            int length = plan.SegmentLength(i);
            WriteSegment(frame, plan, i, output.Slice(at, length));
            segmentLengths[i] = length;
            at += length;
        }

        segmentCount = plan.SegmentCount;
        return OffloadError.None;
    }

    private static void CheckPlan(ReadOnlySpan<byte> frame, in SegmentationPlan plan)
    {
        if (plan.SegmentCount == 0)
        {
            ThrowHelper.ThrowArgument(nameof(plan), "The plan is empty: it did not come from a successful TryPlan.");
        }

        if (frame.Length != plan.FrameLength)
        {
            ThrowHelper.ThrowArgument(nameof(frame), "The frame is not the one the plan was made for.");
        }
    }

    private static OffloadError PlanSegments(ReadOnlySpan<byte> frame, in FrameLayout layout, in SegmentationRequest request, bool tcp,
        SegmentationPlan common, out SegmentationPlan plan)
    {
        plan = default;
        int header = layout.PayloadOffset;
        int payload = frame.Length - header;
        int chunk = request.SegmentSize;
        int first = Math.Min(chunk, payload);

        // Every segment's IP packet must fit the 16-bit IPv4 total length / IPv6 payload length (and USO's UDP length).
        int ipLength = header - layout.L3Offset + first - (layout.IPVersion == 6 ? FrameLayout.IPv6HeaderLength : 0);
        if (ipLength > MaxIPLength)
        {
            return OffloadError.BadSegmentSize;
        }

        int count = payload == 0 ? 1 : (int)(((long)payload + chunk - 1) / chunk);
        plan = common with
        {
            SegmentCount = count,
            HeaderLength = header,
            PayloadLength = payload,
            SegmentPayloadSize = chunk,
            MaxSegmentLength = header + first,
            TotalLength = ((long)count * header) + payload,
            FirstSequence = tcp ? BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(layout.L4Offset + 4)) : 0,
        };
        return OffloadError.None;
    }

    private static OffloadError PlanFragments(ReadOnlySpan<byte> frame, in FrameLayout layout, in SegmentationRequest request,
        SegmentationPlan common, out SegmentationPlan plan)
    {
        plan = default;
        int l4 = layout.L4Offset;
        int datagram = frame.Length - l4;       // UDP header + data: what is fragmented
        bool v6 = layout.IPVersion == 6;
        if (v6 && layout.HasIPv6Extensions)
        {
            return OffloadError.UnsupportedIPv6ExtensionHeader;
        }

        // The whole datagram must fit one IP packet's length and the UDP length field (fragment offsets then fit 13 bits).
        if (datagram + (v6 ? 0 : layout.L3HeaderLength) > MaxIPLength)
        {
            return OffloadError.PayloadTooLarge;
        }

        int chunk = request.SegmentSize & ~7;   // fragment offsets count 8-byte units (RFC 791, RFC 8200 §4.5)
        if (chunk == 0)
        {
            return OffloadError.BadSegmentSize;
        }

        // UDP checksum over the whole datagram, with its length field set to the datagram length (RFC 768).
        ReadOnlySpan<byte> udp = frame.Slice(l4);
        ulong sum = ChecksumKernels.Add(common.AddressSum, ChecksumKernels.FromNetwork((ushort)datagram));
        sum = ChecksumKernels.Add(sum, InternetChecksum.SumNative(udp.Slice(0, 4)));   // ports
        sum = ChecksumKernels.Add(sum, ChecksumKernels.FromNetwork((ushort)datagram));  // UDP length (checksum field: 0)
        sum = ChecksumKernels.Add(sum, InternetChecksum.SumNative(udp.Slice(FrameLayout.UdpHeaderLength)));
        ushort udpChecksum = ChecksumOffload.Finish(ChecksumKernels.ToNetwork(ChecksumKernels.Fold(sum)));

        int count = (datagram + chunk - 1) / chunk;
        int extra = v6 ? 8 : 0;
        int first = Math.Min(chunk, datagram);
        plan = common with
        {
            SegmentCount = count,
            HeaderLength = l4,
            PayloadLength = datagram,
            SegmentPayloadSize = chunk,
            ExtraHeaderLength = extra,
            MaxSegmentLength = l4 + extra + first,
            TotalLength = ((long)count * (l4 + extra)) + datagram,
            UdpChecksum = udpChecksum,
            FragmentId = request.IPv6FragmentId,
        };
        return OffloadError.None;
    }

    /// <summary>Writes segment <paramref name="index"/> into <paramref name="dst"/> (exactly its length).</summary>
    private static void WriteSegment(ReadOnlySpan<byte> frame, in SegmentationPlan plan, int index, Span<byte> dst)
    {
        int header = plan.HeaderLength;
        int offset = index * plan.SegmentPayloadSize;
        int extra = plan.ExtraHeaderLength;
        int chunk = dst.Length - header - extra;
        bool last = index == plan.SegmentCount - 1;
        int l3 = plan.L3Offset, l4 = plan.L4Offset;

        frame.Slice(0, header).CopyTo(dst);
        frame.Slice(header + offset, chunk).CopyTo(dst.Slice(header + extra));

        if (plan.Kind == SegmentationKind.Udp)
        {
            WriteFragmentHeaders(plan, index, offset, last, dst);
            return;
        }

        // IP header (RFC 791 / RFC 8200): lengths, identification, header checksum.
        Span<byte> ip = dst.Slice(l3);
        if (plan.IPVersion == 4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(dst.Length - l3));
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), unchecked((ushort)(plan.FirstIPv4Id + index)));
            WriteIPv4HeaderChecksum(ip.Slice(0, l4 - l3));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), (ushort)(dst.Length - l3 - FrameLayout.IPv6HeaderLength));
        }

        Span<byte> l4Span = dst.Slice(l4);
        int checksumField;
        if (plan.Kind == SegmentationKind.UdpL4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4Span.Slice(4), (ushort)l4Span.Length);
            checksumField = 6;
        }
        else
        {
            // RFC 9293 §3.1: sequence number of the first payload byte; FIN and PSH belong to the last segment, CWR to the
            // first (as Linux tcp_gso_segment).
            BinaryPrimitives.WriteUInt32BigEndian(l4Span.Slice(4), unchecked(plan.FirstSequence + (uint)offset));
            byte flags = l4Span[13];
            if (!last)
            {
                flags &= unchecked((byte)~(TcpFlagFin | TcpFlagPsh));
            }

            if (index != 0)
            {
                flags &= unchecked((byte)~TcpFlagCwr);
            }

            l4Span[13] = flags;
            checksumField = 16;
        }

        l4Span[checksumField] = 0;
        l4Span[checksumField + 1] = 0;
        ulong sum = ChecksumKernels.Add(plan.AddressSum, ChecksumKernels.FromNetwork((ushort)l4Span.Length));
        sum = ChecksumKernels.Add(sum, InternetChecksum.SumNative(l4Span));
        ushort checksum = ChecksumOffload.Finish(ChecksumKernels.ToNetwork(ChecksumKernels.Fold(sum)));
        BinaryPrimitives.WriteUInt16BigEndian(l4Span.Slice(checksumField), checksum);
    }

    private const byte TcpFlagFin = 0x01;
    private const byte TcpFlagPsh = 0x08;
    private const byte TcpFlagCwr = 0x80;

    private static void WriteFragmentHeaders(in SegmentationPlan plan, int index, int offset, bool last, Span<byte> dst)
    {
        int l3 = plan.L3Offset, l4 = plan.L4Offset;
        int extra = plan.ExtraHeaderLength;
        Span<byte> ip = dst.Slice(l3);
        int chunk = dst.Length - l4 - extra;
        if (plan.IPVersion == 4)
        {
            // RFC 791: same identification; offset in 8-byte units; MF on all but the last; DF cleared.
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(dst.Length - l3));
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(6), (ushort)((offset >> 3) | (last ? 0 : 0x2000)));
        }
        else
        {
            // RFC 8200 §4.5: the fragment header follows the IPv6 header; it carries the original next header.
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), (ushort)(extra + chunk));
            ip[6] = 44;
            Span<byte> fragment = dst.Slice(l4, extra);
            fragment[0] = InternetChecksum.ProtocolUdp;
            fragment[1] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(fragment.Slice(2), (ushort)(offset | (last ? 0 : 1)));
            BinaryPrimitives.WriteUInt32BigEndian(fragment.Slice(4), plan.FragmentId);
        }

        if (index == 0)
        {
            Span<byte> udp = dst.Slice(l4 + extra);
            BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(4), (ushort)plan.PayloadLength);
            BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(6), plan.UdpChecksum);
        }

        if (plan.IPVersion == 4)
        {
            WriteIPv4HeaderChecksum(ip.Slice(0, l4 - l3));
        }
    }

    private static void WriteIPv4HeaderChecksum(Span<byte> header)
    {
        header[10] = 0;
        header[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(10), InternetChecksum.Compute(header));
    }
}
