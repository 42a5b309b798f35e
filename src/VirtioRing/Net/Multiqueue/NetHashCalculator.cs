using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// The per-frame hash of virtio-net (virtio 1.2 §5.1.6.4.3): classifies a frame, picks the hash type by the
/// spec's precedence among the enabled ones, and computes the Toeplitz hash over the selected fields. Used
/// for RSS (<see cref="RssSteering"/>) and alone for hash reporting without RSS (<c>VIRTIO_NET_CTRL_MQ_HASH_CONFIG</c>,
/// §5.1.6.5.6.4).
/// </summary>
/// <remarks>
/// <para>Precedence (§5.1.6.4.3.2–§5.1.6.4.3.4): IPv4: TCPv4, then UDPv4, then IPv4. IPv6 without extension
/// headers: TCPv6, UDPv6, IPv6. IPv6 with extension headers: TCP_EX, UDP_EX, IP_EX (home address in place
/// of the source, type-2 routing address in place of the destination, each only when present), and if none
/// of those is enabled, the rules of IPv6 without extension headers. A fragment (IPv4 or IPv6) has no
/// usable L4 header, so it gets an address-only type. A frame that no enabled type applies to is
/// unclassified (<see cref="NetHashResult.None"/>).</para>
/// <para>Following the spec text, the <c>_EX</c> types apply only to packets that carry an IPv6 extension
/// header. (QEMU's virtio-net also applies them to IPv6 packets without one, preferring <c>_EX</c> over the plain
/// IPv6 types; the result then differs when only <c>_EX</c> types are enabled.)</para>
/// <para>Immutable and thread-safe; <see cref="Calculate"/> allocates nothing.</para>
/// </remarks>
[DebuggerDisplay("{HashTypes}")]
public sealed class NetHashCalculator
{
    /// <summary>The longest hash input: two IPv6 addresses and two ports (36 bytes).</summary>
    public const int MaxHashInputLength = ToeplitzHash.MaxTupleLength;

    private readonly ToeplitzHash? _toeplitz;

    /// <summary>Creates a calculator for the enabled hash types and key (of <c>virtio_net_rss_config</c> or <c>virtio_net_hash_config</c>).</summary>
    /// <param name="hashTypes">The enabled hash types; <see cref="NetHashTypes.None"/> reports nothing (the initial state, §5.1.6.5.6.4).</param>
    /// <param name="key">The Toeplitz key. A key shorter than 40 bytes is extended with zero bits so every hash type is defined.</param>
    public NetHashCalculator(NetHashTypes hashTypes, ReadOnlySpan<byte> key)
    {
        HashTypes = hashTypes;
        if (hashTypes != NetHashTypes.None)
        {
            _toeplitz = new ToeplitzHash(key, MaxHashInputLength);
        }
    }

    /// <summary>Gets the enabled hash types.</summary>
    public NetHashTypes HashTypes { get; }

    /// <summary>Classifies <paramref name="frame"/> and hashes it by the first enabled type that applies.</summary>
    /// <param name="frame">An Ethernet frame (without the virtio-net header); may be anything, truncated or hostile.</param>
    /// <returns>The hash and its type, or <see cref="NetHashResult.None"/> when the frame is unclassified.</returns>
    public NetHashResult Calculate(ReadOnlySpan<byte> frame)
    {
        if (_toeplitz is null || !FrameParser.TryParse(frame, out ParsedFrame parsed))
        {
            return default;
        }

        return CalculateParsed(frame, in parsed, reverse: false);
    }

    /// <summary>
    /// Selects the hash type for <paramref name="frame"/> among <paramref name="enabled"/> and writes the hash
    /// input (addresses, then ports, in network byte order) to <paramref name="input"/>: the classification
    /// half of <see cref="Calculate"/>, for software that hashes another way or checks a device.
    /// </summary>
    /// <param name="frame">An Ethernet frame (without the virtio-net header).</param>
    /// <param name="enabled">The enabled hash types.</param>
    /// <param name="input">Receives the hash input; at least <see cref="MaxHashInputLength"/> bytes.</param>
    /// <param name="inputLength">The number of bytes written (0 when unclassified).</param>
    /// <returns>The selected type, or <see cref="NetHashReport.None"/> when no enabled type applies.</returns>
    /// <exception cref="ArgumentException"><paramref name="input"/> is shorter than <see cref="MaxHashInputLength"/>.</exception>
    public static NetHashReport SelectHashInput(ReadOnlySpan<byte> frame, NetHashTypes enabled, Span<byte> input, out int inputLength)
    {
        if (input.Length < MaxHashInputLength)
        {
            ThrowHelper.ThrowArgument(nameof(input), "The input buffer must hold at least 36 bytes.");
        }

        inputLength = 0;
        return FrameParser.TryParse(frame, out ParsedFrame parsed)
            ? SelectHashInput(frame, in parsed, enabled, input, reverse: false, out inputLength)
            : NetHashReport.None;
    }

    /// <summary>Hashes a parsed frame; <paramref name="reverse"/> swaps source and destination (the reply's hash).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal NetHashResult CalculateParsed(ReadOnlySpan<byte> frame, in ParsedFrame parsed, bool reverse)
    {
        Debug.Assert(_toeplitz is not null, "no hash types enabled");
        Span<byte> input = stackalloc byte[MaxHashInputLength];
        NetHashReport report = SelectHashInput(frame, in parsed, HashTypes, input, reverse, out int length);
        return report == NetHashReport.None
            ? default
            : new NetHashResult(_toeplitz!.ComputeUnchecked(input.Slice(0, length)), report);
    }

    /// <summary>Gets a value indicating whether any hash type is enabled.</summary>
    internal bool IsEnabled => _toeplitz is not null;

    internal static NetHashReport SelectHashInput(
        ReadOnlySpan<byte> frame, in ParsedFrame parsed, NetHashTypes enabled, Span<byte> input, bool reverse, out int length)
    {
        length = 0;
        NetHashReport report = SelectType(in parsed, enabled);
        if (report == NetHashReport.None)
        {
            return report;
        }

        int source = parsed.SourceOffset;
        int destination = parsed.DestinationOffset;
        int addressLength = parsed.AddressLength;
        if (report is NetHashReport.IPv6Ex or NetHashReport.TcpV6Ex or NetHashReport.UdpV6Ex)
        {
            // §5.1.6.4.3.4: the home address replaces the source, the type-2 routing address the destination.
            if (parsed.HomeAddressOffset >= 0)
            {
                source = parsed.HomeAddressOffset;
            }

            if (parsed.RoutingAddressOffset >= 0)
            {
                destination = parsed.RoutingAddressOffset;
            }
        }

        if (reverse)
        {
            (source, destination) = (destination, source);
        }

        frame.Slice(source, addressLength).CopyTo(input);
        frame.Slice(destination, addressLength).CopyTo(input.Slice(addressLength));
        length = 2 * addressLength;
        if (report is NetHashReport.TcpV4 or NetHashReport.UdpV4 or NetHashReport.TcpV6 or NetHashReport.UdpV6
            or NetHashReport.TcpV6Ex or NetHashReport.UdpV6Ex)
        {
            // Source port, then destination port (the first 4 bytes of both TCP and UDP headers).
            int ports = parsed.L4Offset;
            if (reverse)
            {
                input[length] = frame[ports + 2];
                input[length + 1] = frame[ports + 3];
                input[length + 2] = frame[ports];
                input[length + 3] = frame[ports + 1];
            }
            else
            {
                frame.Slice(ports, 4).CopyTo(input.Slice(length));
            }

            length += 4;
        }

        return report;
    }

    // The precedence of virtio 1.2 §5.1.6.4.3.2 (IPv4), §5.1.6.4.3.3 (IPv6) and §5.1.6.4.3.4 (IPv6 with extension headers).
    private static NetHashReport SelectType(in ParsedFrame parsed, NetHashTypes enabled)
    {
        bool tcp = parsed.L4Protocol == ParsedFrame.Tcp;
        bool udp = parsed.L4Protocol == ParsedFrame.Udp;
        if (parsed.IpVersion == 4)
        {
            if (tcp && (enabled & NetHashTypes.TcpV4) != 0)
            {
                return NetHashReport.TcpV4;
            }

            if (udp && (enabled & NetHashTypes.UdpV4) != 0)
            {
                return NetHashReport.UdpV4;
            }

            return (enabled & NetHashTypes.IPv4) != 0 ? NetHashReport.IPv4 : NetHashReport.None;
        }

        if (parsed.IpVersion != 6)
        {
            return NetHashReport.None;
        }

        if (parsed.HasExtensionHeaders)
        {
            if (tcp && (enabled & NetHashTypes.TcpEx) != 0)
            {
                return NetHashReport.TcpV6Ex;
            }

            if (udp && (enabled & NetHashTypes.UdpEx) != 0)
            {
                return NetHashReport.UdpV6Ex;
            }

            if ((enabled & NetHashTypes.IPEx) != 0)
            {
                return NetHashReport.IPv6Ex;
            }

            // "Else skip IPv6 extension headers and calculate the hash as defined for an IPv6 packet without
            // extension headers": the walk already skipped them.
        }

        if (tcp && (enabled & NetHashTypes.TcpV6) != 0)
        {
            return NetHashReport.TcpV6;
        }

        if (udp && (enabled & NetHashTypes.UdpV6) != 0)
        {
            return NetHashReport.UdpV6;
        }

        return (enabled & NetHashTypes.IPv6) != 0 ? NetHashReport.IPv6 : NetHashReport.None;
    }
}
