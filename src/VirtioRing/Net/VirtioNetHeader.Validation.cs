using System;
using System.Runtime.CompilerServices;
using VirtioRing.Queues;

namespace VirtioRing.Net;

/// <content>Validation of transmit headers a guest sent, and reading a header out of a descriptor chain.</content>
public partial struct VirtioNetHeader
{
    private const byte EcnBit = (byte)NetGsoType.Ecn;
    private const byte TunnelBits = (byte)(NetGsoType.UdpTunnelIPv4 | NetGsoType.UdpTunnelIPv6);

    /// <summary>
    /// Checks a header the driver put before a frame on a transmit queue, against the negotiated
    /// features and the frame's length, before the device acts on any of its fields
    /// (virtio 1.3 §5.1.6.2 "Packet Transmission", driver and device requirements).
    /// </summary>
    /// <remarks>
    /// <para>Checked, in this order: no UDP-tunnel bit or flag (those features are not negotiable
    /// here); a defined base <c>gso_type</c>, and <c>GSO_ECN</c> only on a real GSO type (as Linux's
    /// <c>virtio_net_hdr_to_skb</c>); the <c>HOST_TSO4</c>/<c>HOST_TSO6</c>/<c>HOST_UFO</c>/<c>HOST_USO</c>
    /// feature the type needs; <c>HOST_ECN</c> for the ECN bit; <c>CSUM</c> for <c>NEEDS_CSUM</c>;
    /// <c>NEEDS_CSUM</c> on every GSO frame; <c>csum_start + csum_offset + 2 ≤ frameLength</c> (the
    /// checksum field lies inside the frame: DPDK CVE-2024-11614); for GSO, <c>gso_size</c> nonzero
    /// and <c>hdr_len ≤ frameLength</c>, and with <c>GUEST_HDRLEN</c> <c>hdr_len</c> covering the
    /// checksum field (it is then exact and a device may use it, §5.1.6.2).</para>
    /// <para>Not refused: <c>DATA_VALID</c>/<c>RSC_INFO</c> from a driver and unknown flag bits (the
    /// device "MUST ignore flag bits that it does not recognize"), <c>hdr_len</c> of a non-GSO frame
    /// (only a hint the device must not rely on), and a <c>gso_size</c> larger than the payload (Linux
    /// sends such frames; they make one segment).</para>
    /// </remarks>
    /// <param name="negotiated">The negotiated features.</param>
    /// <param name="frameLength">The frame's length after the virtio header (Ethernet header onwards).</param>
    /// <returns><see cref="NetHeaderError.None"/>, or why the frame must be dropped.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="frameLength"/> is negative.</exception>
    public readonly NetHeaderError ValidateTransmit(NetFeatures negotiated, int frameLength)
    {
        if (frameLength < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(frameLength));
        }

        byte gso = (byte)GsoType;
        NetHeaderFlags flags = Flags;
        if ((gso & TunnelBits) != 0 || (flags & NetHeaderFlags.UdpTunnelChecksum) != 0)
        {
            return NetHeaderError.TunnelNotNegotiated;
        }

        var baseType = (NetGsoType)(gso & ~EcnBit);
        bool isGso = baseType != NetGsoType.None;
        NetFeatures needed;
        switch (baseType)
        {
            case NetGsoType.None:
                needed = NetFeatures.None;
                break;
            case NetGsoType.TcpV4:
                needed = NetFeatures.HostTso4;
                break;
            case NetGsoType.TcpV6:
                needed = NetFeatures.HostTso6;
                break;
            case NetGsoType.Udp:
                needed = NetFeatures.HostUfo;
                break;
            case NetGsoType.UdpL4:
                needed = NetFeatures.HostUso;
                break;
            default:
                return NetHeaderError.UnknownGsoType;
        }

        if ((gso & EcnBit) != 0 && !isGso)
        {
            return NetHeaderError.UnknownGsoType;
        }

        if ((negotiated & needed) != needed)
        {
            return NetHeaderError.GsoTypeNotNegotiated;
        }

        if ((gso & EcnBit) != 0 && (negotiated & NetFeatures.HostEcn) == 0)
        {
            return NetHeaderError.EcnNotNegotiated;
        }

        bool needsChecksum = (flags & NetHeaderFlags.NeedsChecksum) != 0;
        if (needsChecksum)
        {
            if ((negotiated & NetFeatures.Csum) == 0)
            {
                return NetHeaderError.ChecksumNotNegotiated;
            }

            // Two u16 values plus 2: at most 131072, so int arithmetic cannot overflow.
            if (ChecksumStart + ChecksumOffset + 2 > frameLength)
            {
                return NetHeaderError.ChecksumOutsideFrame;
            }
        }

        if (!isGso)
        {
            return NetHeaderError.None;
        }

        if (!needsChecksum)
        {
            return NetHeaderError.GsoWithoutChecksum;
        }

        if (GsoSize == 0)
        {
            return NetHeaderError.BadGsoSize;
        }

        if (HeaderLength > frameLength)
        {
            return NetHeaderError.BadHeaderLength;
        }

        if ((negotiated & NetFeatures.GuestHdrLen) != 0 && HeaderLength < ChecksumStart + ChecksumOffset + 2)
        {
            return NetHeaderError.BadHeaderLength;
        }

        return NetHeaderError.None;
    }

    /// <summary>
    /// Reads the header from the start of a chain's device-readable bytes, wherever the descriptor
    /// boundaries fall: a header split across descriptors is gathered (as any layout is allowed,
    /// §2.7.4 / <c>VIRTIO_F_ANY_LAYOUT</c>), and a chain shorter than the header is a typed error,
    /// not a crash (DPDK CVE-2022-2132). Guest memory is read once, into a local copy.
    /// </summary>
    /// <param name="chain">A held chain (a transmit chain: readable segments first).</param>
    /// <param name="layout">The header layout.</param>
    /// <param name="header">The header, when the result is <see cref="NetHeaderError.None"/>.</param>
    /// <returns><see cref="NetHeaderError.None"/> or <see cref="NetHeaderError.TooShort"/>.</returns>
    /// <exception cref="ArgumentException">The layout is invalid.</exception>
    /// <exception cref="InvalidOperationException">The chain is not held.</exception>
    public static NetHeaderError TryReadFromChain(in DescriptorChain chain, NetHeaderLayout layout, out VirtioNetHeader header)
    {
        CheckLayout(layout);
        int size = layout.Size;
        if (chain.ReadableLength < (uint)size)
        {
            header = default;
            return NetHeaderError.TooShort;
        }

        Span<byte> first = chain.GetSpan(0);
        if (first.Length >= size)
        {
            header = Decode(first, layout);
            return NetHeaderError.None;
        }

        return ReadGathered(chain, layout, out header);
    }

    /// <summary>The header straddles descriptors: gathered into a local copy first (out of line, so the common path has no stack buffer to zero).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    [SkipLocalsInit]
    private static NetHeaderError ReadGathered(in DescriptorChain chain, NetHeaderLayout layout, out VirtioNetHeader header)
    {
        int size = layout.Size;
        Span<byte> copy = stackalloc byte[NetHeaderLayout.HashReportSize];
        int copied = chain.CopyFromReadable(0, copy.Slice(0, size));
        if (copied < size)
        {
            // Cannot happen (ReadableLength was checked), kept so a miscounted chain cannot decode stale bytes.
            header = default;
            return NetHeaderError.TooShort;
        }

        header = Decode(copy, layout);
        return NetHeaderError.None;
    }

    /// <summary>
    /// Reads and validates the header of a transmit chain in one step: <see cref="TryReadFromChain"/>
    /// then <see cref="ValidateTransmit"/> with the frame length the chain implies.
    /// </summary>
    /// <param name="chain">A held transmit chain.</param>
    /// <param name="layout">The header layout.</param>
    /// <param name="negotiated">The negotiated features.</param>
    /// <param name="header">The header (default when too short).</param>
    /// <param name="frameLength">The frame length after the header (clamped to <see cref="int.MaxValue"/>; frames that long fail elsewhere).</param>
    /// <returns><see cref="NetHeaderError.None"/>, or why the frame must be dropped.</returns>
    /// <exception cref="ArgumentException">The layout is invalid.</exception>
    /// <exception cref="InvalidOperationException">The chain is not held.</exception>
    public static NetHeaderError ReadTransmit(in DescriptorChain chain, NetHeaderLayout layout, NetFeatures negotiated, out VirtioNetHeader header, out int frameLength)
    {
        NetHeaderError e = TryReadFromChain(chain, layout, out header);
        if (e != NetHeaderError.None)
        {
            frameLength = 0;
            return e;
        }

        // Every field compared against frameLength is below 2^17, so clamping cannot change a result.
        frameLength = (int)Math.Min(chain.ReadableLength - (uint)layout.Size, int.MaxValue);
        return header.ValidateTransmit(negotiated, frameLength);
    }
}
