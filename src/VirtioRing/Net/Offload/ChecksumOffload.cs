using System;
using System.Buffers.Binary;
using VirtioRing.Queues;

namespace VirtioRing.Net.Offload;

/// <summary>
/// Checksum offloads done in software for a backend that cannot do them: completing a <c>NEEDS_CSUM</c> frame a driver
/// sent (virtio 1.2 §5.1.6.2), and validating a received frame's checksums so the device may set <c>DATA_VALID</c>
/// (§5.1.6.4).
/// </summary>
/// <remarks>
/// <para><b>Completion semantics</b> (virtio 1.2 §5.1.6.2, as Linux <c>skb_checksum_help</c>): the driver leaves the
/// pseudo-header sum (not complemented) in the checksum field and sets <c>csum_start</c> and <c>csum_offset</c>. The
/// device sums from <c>csum_start</c> to the end of the frame <em>including that field</em>, complements, and stores the
/// result big-endian at <c>csum_start + csum_offset</c>. A result of 0 is stored as 0xFFFF (Linux's
/// <c>CSUM_MANGLED_0</c>): the same value in ones'-complement arithmetic, and the only form a UDP checksum may take, since
/// 0 means "no checksum" there (RFC 768). The helpers do not look at the protocol, so they complete any 16-bit Internet
/// checksum the driver asks for.</para>
/// <para><b>Bounds</b>: <c>csum_start + csum_offset + 2</c> must not exceed the frame length, or the result is
/// <see cref="OffloadError.ChecksumOutOfFrame"/> and nothing is written (DPDK CVE-2024-11614 wrote past the buffer).</para>
/// </remarks>
public static class ChecksumOffload
{
    /// <summary>Completes a <c>NEEDS_CSUM</c> checksum in place.</summary>
    /// <param name="frame">The frame (from the Ethernet header; the virtio-net header is not part of it).</param>
    /// <param name="checksumStart"><c>csum_start</c>: where summing starts.</param>
    /// <param name="checksumOffset"><c>csum_offset</c>: where, after <paramref name="checksumStart"/>, the checksum goes.</param>
    /// <returns><see cref="OffloadError.None"/>, or <see cref="OffloadError.ChecksumOutOfFrame"/> (frame unchanged).</returns>
    public static OffloadError TryCompleteChecksum(Span<byte> frame, ushort checksumStart, ushort checksumOffset)
    {
        int field = checksumStart + checksumOffset;          // ≤ 131070: no overflow
        if (field > frame.Length - 2)
        {
            return OffloadError.ChecksumOutOfFrame;
        }

        // csum_start < length follows from field + 2 <= length.
        ushort sum = InternetChecksum.Sum(frame.Slice(checksumStart));
        BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(field), Finish(sum));
        return OffloadError.None;
    }

    /// <summary>
    /// Computes the checksum a <c>NEEDS_CSUM</c> frame needs, over the device-readable segments of a transmit chain (a
    /// gather: any segment boundaries, odd ones included), without writing to the chain: a device must not write into
    /// driver-readable buffers, so the caller stores the value at <c>csum_start + csum_offset</c> in its own copy (or in the
    /// piece of the gather it sends from its own memory).
    /// </summary>
    /// <param name="chain">A popped transmit chain; its readable segments hold the virtio-net header, then the frame.</param>
    /// <param name="frameOffset">Where the frame starts in the readable bytes (the virtio-net header's length).</param>
    /// <param name="checksumStart"><c>csum_start</c>, relative to the frame.</param>
    /// <param name="checksumOffset"><c>csum_offset</c>.</param>
    /// <param name="checksum">The checksum to store big-endian at <c>frameOffset + csum_start + csum_offset</c>.</param>
    /// <returns><see cref="OffloadError.None"/>, <see cref="OffloadError.TruncatedEthernetHeader"/> when the chain is shorter
    /// than <paramref name="frameOffset"/>, or <see cref="OffloadError.ChecksumOutOfFrame"/>.</returns>
    /// <exception cref="InvalidOperationException">The chain was already pushed as used.</exception>
    public static OffloadError TryComputeChecksum(in DescriptorChain chain, uint frameOffset, ushort checksumStart, ushort checksumOffset, out ushort checksum) =>
        TryComputeChecksum(new ChainReadableSegments(chain), frameOffset, checksumStart, checksumOffset, out checksum);

    /// <summary>The gather core of <see cref="TryComputeChecksum(in DescriptorChain, uint, ushort, ushort, out ushort)"/>.</summary>
    internal static OffloadError TryComputeChecksum<TSegments>(TSegments segments, long frameOffset, ushort checksumStart, ushort checksumOffset, out ushort checksum)
        where TSegments : IReadOnlySegments
    {
        checksum = 0;
        long total = 0;
        int count = segments.Count;
        for (int i = 0; i < count; i++)
        {
            total += segments.Get(i).Length;
        }

        if (frameOffset > total)
        {
            return OffloadError.TruncatedEthernetHeader;
        }

        long frameLength = total - frameOffset;
        if ((long)checksumStart + checksumOffset + 2 > frameLength)
        {
            return OffloadError.ChecksumOutOfFrame;
        }

        // Each span is read from guest memory once; if the driver changes a byte meanwhile, only its own checksum is wrong.
        long skip = frameOffset + checksumStart;
        var acc = new ChecksumAccumulator();
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> s = segments.Get(i);
            if (skip >= s.Length)
            {
                skip -= s.Length;
                continue;
            }

            acc.Add(s.Slice((int)skip));
            skip = 0;
        }

        checksum = Finish(acc.Sum);
        return OffloadError.None;
    }

    /// <summary>
    /// Validates a received frame's checksums: the IPv4 header checksum and the TCP or UDP checksum (with its
    /// pseudo-header) of Ethernet (+ up to two VLAN tags) / IPv4 or IPv6 (extension headers walked) / TCP or UDP, so the
    /// device may set <c>VIRTIO_NET_HDR_F_DATA_VALID</c> (virtio 1.2 §5.1.6.4). Never throws, never reads outside the span.
    /// </summary>
    /// <param name="frame">The frame from its Ethernet header; bytes past the IP length (Ethernet padding) are ignored.</param>
    /// <returns>What was found; <see cref="ReceiveChecksumResult.IsDataValid"/> says whether <c>DATA_VALID</c> may be set.</returns>
    public static ReceiveChecksumResult ValidateReceived(ReadOnlySpan<byte> frame)
    {
        OffloadError error = FrameLayout.TryParse(frame, out FrameLayout layout);
        if (error == OffloadError.UnsupportedEtherType)
        {
            return new ReceiveChecksumResult(ReceiveChecksumStatus.NotCovered, OffloadError.None, 0, 0);
        }

        if (error != OffloadError.None)
        {
            return new ReceiveChecksumResult(ReceiveChecksumStatus.Malformed, error, 0, 0);
        }

        if (layout.IPVersion == 4 && !InternetChecksum.Verify(frame.Slice(layout.L3Offset, layout.L3HeaderLength)))
        {
            return new ReceiveChecksumResult(ReceiveChecksumStatus.IPv4HeaderChecksumInvalid, OffloadError.None, layout.Protocol, 0);
        }

        if (layout.IsFragment || layout.HasIPv6Routing || !(layout.IsTcp || layout.IsUdp))
        {
            // A fragment's checksum covers the whole datagram; a routing header changes the pseudo-header's destination.
            return new ReceiveChecksumResult(ReceiveChecksumStatus.NotCovered, OffloadError.None, layout.Protocol, 0);
        }

        int l4 = layout.L4Offset;
        int l4Length = layout.IPEnd - l4;
        if (l4Length < layout.L4HeaderLength)
        {
            return new ReceiveChecksumResult(ReceiveChecksumStatus.Malformed, OffloadError.BadIPLength, layout.Protocol, l4);
        }

        if (layout.IsUdp)
        {
            // The UDP length field bounds the datagram (RFC 768); it may not exceed what IP carries.
            int udpLength = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(l4 + 4));
            if (udpLength < FrameLayout.UdpHeaderLength || udpLength > l4Length)
            {
                return new ReceiveChecksumResult(ReceiveChecksumStatus.Malformed, OffloadError.BadIPLength, layout.Protocol, l4);
            }

            if (BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(l4 + 6)) == 0)
            {
                ReceiveChecksumStatus absent = layout.IPVersion == 4
                    ? ReceiveChecksumStatus.UdpChecksumAbsent
                    : ReceiveChecksumStatus.TransportChecksumInvalid;
                return new ReceiveChecksumResult(absent, OffloadError.None, layout.Protocol, l4);
            }

            l4Length = udpLength;
        }

        ulong pseudo = PseudoHeaderNative(frame, layout, (uint)l4Length);
        ulong sum = ChecksumKernels.Add(pseudo, InternetChecksum.SumNative(frame.Slice(l4, l4Length)));
        ReceiveChecksumStatus status = ChecksumKernels.Fold(sum) == 0xFFFF
            ? ReceiveChecksumStatus.Valid
            : ReceiveChecksumStatus.TransportChecksumInvalid;
        return new ReceiveChecksumResult(status, OffloadError.None, layout.Protocol, l4);
    }

    /// <summary>The pseudo-header accumulator of the packet <paramref name="layout"/> describes.</summary>
    internal static ulong PseudoHeaderNative(ReadOnlySpan<byte> frame, in FrameLayout layout, uint transportLength)
    {
        int l3 = layout.L3Offset;
        return layout.IPVersion == 4
            ? InternetChecksum.PseudoIPv4Native(frame.Slice(l3 + 12, 4), frame.Slice(l3 + 16, 4), layout.Protocol, transportLength)
            : InternetChecksum.PseudoIPv6Native(frame.Slice(l3 + 8, 16), frame.Slice(l3 + 24, 16), layout.Protocol, transportLength);
    }

    /// <summary>Complements a sum into the checksum to store; 0 becomes 0xFFFF (Linux <c>CSUM_MANGLED_0</c>).</summary>
    internal static ushort Finish(ushort sum)
    {
        ushort c = (ushort)~sum;
        return c == 0 ? (ushort)0xFFFF : c;
    }
}
