using System;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace VirtioRing.Net.Offload;

/// <summary>
/// The Internet checksum (RFC 1071): the 16-bit ones'-complement of the ones'-complement sum of a buffer's big-endian
/// 16-bit words, as IPv4, TCP and UDP carry it. Vectorised; allocation-free.
/// </summary>
/// <remarks>
/// <para>Every 16-bit value this type takes or returns is the numeric value of a big-endian (network order) word: the value
/// <see cref="BinaryPrimitives.ReadUInt16BigEndian(ReadOnlySpan{byte})"/> reads from a packet, and
/// <see cref="BinaryPrimitives.WriteUInt16BigEndian(Span{byte}, ushort)"/> stores into one.</para>
/// <para>A <em>sum</em> is the folded ones'-complement sum (not complemented); a <em>checksum</em> is its complement, the
/// value a header's checksum field holds. A buffer whose checksum field is correct sums to 0xFFFF (<see cref="Verify"/>).
/// To sum data that arrives in pieces of any length (odd ones included), use <see cref="ChecksumAccumulator"/>.</para>
/// </remarks>
public static partial class InternetChecksum
{
    /// <summary>The IP protocol number of TCP (RFC 9293).</summary>
    public const byte ProtocolTcp = 6;

    /// <summary>The IP protocol number of UDP (RFC 768).</summary>
    public const byte ProtocolUdp = 17;

    /// <summary>Computes the folded ones'-complement sum of a buffer (taken to start at an even offset).</summary>
    /// <param name="data">The bytes; an odd last byte is padded with a zero byte (RFC 1071 §4.1).</param>
    /// <returns>The sum, in 0x0000–0xFFFF (0x0000 only for all-zero data).</returns>
    public static ushort Sum(ReadOnlySpan<byte> data) => ChecksumKernels.ToNetwork(ChecksumKernels.Fold(SumNative(data)));

    /// <summary>Continues a sum with more data that starts at an even offset of the summed whole.</summary>
    /// <param name="data">The bytes.</param>
    /// <param name="initial">The sum so far (for example a pseudo-header sum).</param>
    /// <returns>The sum of <paramref name="initial"/> and <paramref name="data"/>.</returns>
    public static ushort Sum(ReadOnlySpan<byte> data, ushort initial) =>
        ChecksumKernels.ToNetwork(ChecksumKernels.Fold(ChecksumKernels.Add(SumNative(data), ChecksumKernels.FromNetwork(initial))));

    /// <summary>Computes the Internet checksum of a buffer: the complement of <see cref="Sum(ReadOnlySpan{byte})"/>.</summary>
    /// <param name="data">The bytes, with the checksum field (if inside) set to zero.</param>
    /// <returns>The checksum to store, big-endian, into the checksum field.</returns>
    public static ushort Compute(ReadOnlySpan<byte> data) => (ushort)~Sum(data);

    /// <summary>Gets whether a buffer that contains its own checksum field verifies (sums to 0xFFFF), as an IPv4 header must.</summary>
    /// <param name="data">The bytes, checksum field included.</param>
    /// <returns><see langword="true"/> when the checksum is correct.</returns>
    public static bool Verify(ReadOnlySpan<byte> data) => Sum(data) == 0xFFFF;

    /// <summary>Adds two sums in ones'-complement arithmetic (end-around carry).</summary>
    /// <param name="a">A sum.</param>
    /// <param name="b">A sum of data that starts at an even offset relative to <paramref name="a"/>'s data.</param>
    /// <returns>The combined sum.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Add(ushort a, ushort b)
    {
        uint s = (uint)a + b;
        return (ushort)((s & 0xFFFF) + (s >> 16));
    }

    /// <summary>Adds the sum of a piece that starts at <paramref name="offset"/> of the whole to the sum of what came before.</summary>
    /// <param name="sum">The sum so far.</param>
    /// <param name="pieceSum">The piece's own sum, computed as if it started at an even offset.</param>
    /// <param name="offset">Where the piece starts in the whole; when odd, the piece's sum is byte-swapped first (RFC 1071 §2(B)).</param>
    /// <returns>The combined sum.</returns>
    public static ushort Add(ushort sum, ushort pieceSum, long offset) =>
        Add(sum, (offset & 1) != 0 ? BinaryPrimitives.ReverseEndianness(pieceSum) : pieceSum);

    /// <summary>
    /// Computes the sum of the IPv4 pseudo-header of TCP or UDP (RFC 9293 §3.1, RFC 768): source and destination address,
    /// zero, protocol and transport length. This (not complemented) is the value Linux and virtio drivers leave in the
    /// checksum field of a <c>NEEDS_CSUM</c> packet (virtio 1.2 §5.1.6.2).
    /// </summary>
    /// <param name="source">The 4-byte source address, as in the header.</param>
    /// <param name="destination">The 4-byte destination address, as in the header.</param>
    /// <param name="protocol">The transport protocol number (<see cref="ProtocolTcp"/>, <see cref="ProtocolUdp"/>).</param>
    /// <param name="transportLength">The length of the transport header and payload.</param>
    /// <returns>The pseudo-header sum.</returns>
    /// <exception cref="ArgumentException">An address is not 4 bytes long.</exception>
    public static ushort PseudoHeaderSumIPv4(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte protocol, ushort transportLength)
    {
        if (source.Length != 4)
        {
            ThrowHelper.ThrowArgument(nameof(source), "An IPv4 address is 4 bytes long.");
        }

        if (destination.Length != 4)
        {
            ThrowHelper.ThrowArgument(nameof(destination), "An IPv4 address is 4 bytes long.");
        }

        return ChecksumKernels.ToNetwork(ChecksumKernels.Fold(PseudoIPv4Native(source, destination, protocol, transportLength)));
    }

    /// <summary>
    /// Computes the sum of the IPv6 pseudo-header of TCP or UDP (RFC 8200 §8.1): source and destination address,
    /// upper-layer packet length (32 bits), three zero bytes and the next-header value.
    /// </summary>
    /// <param name="source">The 16-byte source address.</param>
    /// <param name="destination">The 16-byte (final) destination address.</param>
    /// <param name="nextHeader">The upper-layer protocol (<see cref="ProtocolTcp"/>, <see cref="ProtocolUdp"/>).</param>
    /// <param name="transportLength">The upper-layer packet length.</param>
    /// <returns>The pseudo-header sum.</returns>
    /// <exception cref="ArgumentException">An address is not 16 bytes long.</exception>
    public static ushort PseudoHeaderSumIPv6(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte nextHeader, uint transportLength)
    {
        if (source.Length != 16)
        {
            ThrowHelper.ThrowArgument(nameof(source), "An IPv6 address is 16 bytes long.");
        }

        if (destination.Length != 16)
        {
            ThrowHelper.ThrowArgument(nameof(destination), "An IPv6 address is 16 bytes long.");
        }

        return ChecksumKernels.ToNetwork(ChecksumKernels.Fold(PseudoIPv6Native(source, destination, nextHeader, transportLength)));
    }

    /// <summary>The native-order accumulator of the IPv4 pseudo-header; addresses are 4 bytes each.</summary>
    internal static ulong PseudoIPv4Native(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte protocol, uint transportLength)
    {
        ulong s = (ulong)ChecksumKernels.SumTail(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(source), 0, 4, 0)
            + ChecksumKernels.SumTail(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(destination), 0, 4, 0);
        return s + ChecksumKernels.FromNetwork(protocol) + ChecksumKernels.FromNetwork((ushort)(transportLength >> 16))
            + ChecksumKernels.FromNetwork((ushort)transportLength);
    }

    /// <summary>The native-order accumulator of the IPv6 pseudo-header; addresses are 16 bytes each.</summary>
    internal static ulong PseudoIPv6Native(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte nextHeader, uint transportLength)
    {
        ulong s = ChecksumKernels.SumTail(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(source), 0, 16, 0)
            + ChecksumKernels.SumTail(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(destination), 0, 16, 0);
        return s + ChecksumKernels.FromNetwork(nextHeader) + ChecksumKernels.FromNetwork((ushort)(transportLength >> 16))
            + ChecksumKernels.FromNetwork((ushort)transportLength);
    }
}
