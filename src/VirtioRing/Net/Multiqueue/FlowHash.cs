using System;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// A cheap, direction-independent hash of a flow (addresses, ports, protocol): a frame and its reply get
/// the same value, so a transmitted frame can teach where the flow's received frames go (as Linux tun's
/// automatic steering uses a symmetric flow hash). Not a defence against crafted collisions: an attacker who
/// makes flows collide only shares a queue or a flow-table slot, which the bounded table tolerates.
/// </summary>
internal static class FlowHash
{
    /// <summary>Hashes a parsed IP frame.</summary>
    /// <param name="frame">The frame.</param>
    /// <param name="parsed">What <see cref="FrameParser"/> found (IPv4 or IPv6).</param>
    /// <returns>The same value for both directions of the flow.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Symmetric(ReadOnlySpan<byte> frame, in ParsedFrame parsed)
    {
        ulong source, destination;
        if (parsed.IpVersion == 4)
        {
            source = BinaryPrimitives.ReadUInt32LittleEndian(frame.Slice(parsed.SourceOffset));
            destination = BinaryPrimitives.ReadUInt32LittleEndian(frame.Slice(parsed.DestinationOffset));
        }
        else
        {
            source = Fold(frame.Slice(parsed.SourceOffset, 16));
            destination = Fold(frame.Slice(parsed.DestinationOffset, 16));
        }

        uint sourcePort = 0, destinationPort = 0;
        if (parsed.L4Protocol != 0)
        {
            sourcePort = BinaryPrimitives.ReadUInt16LittleEndian(frame.Slice(parsed.L4Offset));
            destinationPort = BinaryPrimitives.ReadUInt16LittleEndian(frame.Slice(parsed.L4Offset + 2));
        }

        // Order the two endpoints (address, then port) so both directions present them alike, then one
        // multiply-add to combine them and one full mix.
        if (source > destination || (source == destination && sourcePort > destinationPort))
        {
            (source, destination) = (destination, source);
            (sourcePort, destinationPort) = (destinationPort, sourcePort);
        }

        ulong x = (source * Golden) + destination;
        x ^= ((ulong)sourcePort << 40) | ((ulong)destinationPort << 24) | parsed.L4Protocol;
        return (uint)(Mix(x) >> 32);
    }

    /// <summary>Hashes a frame, or returns false when it is not IP.</summary>
    /// <param name="frame">An Ethernet frame.</param>
    /// <param name="hash">The symmetric flow hash.</param>
    /// <returns>Whether the frame is IPv4 or IPv6.</returns>
    public static bool TryCompute(ReadOnlySpan<byte> frame, out uint hash)
    {
        if (!FrameParser.TryParse(frame, out ParsedFrame parsed))
        {
            hash = 0;
            return false;
        }

        hash = Symmetric(frame, in parsed);
        return true;
    }

    /// <summary>Maps a 32-bit hash onto 0..count−1 by multiply-shift (uniform for a well-mixed hash; no division).</summary>
    /// <param name="hash">The hash.</param>
    /// <param name="count">The number of buckets, at least 1.</param>
    /// <returns>The bucket.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Reduce(uint hash, ushort count) => (ushort)(((ulong)hash * count) >> 32);

    private const ulong Golden = 0x9E3779B97F4A7C15UL;   // 2^64 / golden ratio, odd

    // An IPv6 address to 64 bits: distinct addresses of one network (same upper half) stay distinct.
    private static ulong Fold(ReadOnlySpan<byte> address) =>
        (BinaryPrimitives.ReadUInt64LittleEndian(address) * Golden) ^ BinaryPrimitives.ReadUInt64LittleEndian(address.Slice(8));

    // The 64-bit finaliser of MurmurHash3 (public domain): every input bit affects every output bit.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong x)
    {
        x ^= x >> 33;
        x *= 0xFF51AFD7ED558CCDUL;
        x ^= x >> 33;
        x *= 0xC4CEB9FE1A85EC53UL;
        x ^= x >> 33;
        return x;
    }
}
