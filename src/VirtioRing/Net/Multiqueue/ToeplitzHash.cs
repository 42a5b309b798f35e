using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// The Toeplitz hash of RSS (virtio 1.2 §5.1.6.4.3 and §5.1.6.5.7 name it; the algorithm is Microsoft's
/// "RSS hashing functions"): for every set bit <c>i</c> of the input (most significant bit of byte 0 first),
/// the 32-bit window of the key that starts at key bit <c>i</c> is XORed into the result.
/// </summary>
/// <remarks>
/// The hash is linear over GF(2), so the contribution of each input byte depends only on its value and
/// position. The constructor precomputes one 256-entry table per input byte position (4 KiB per position;
/// 36 positions, enough for an IPv6 4-tuple, is 36 KiB), after which <see cref="Compute"/> costs one table
/// load and one XOR per input byte and allocates nothing. Build one instance per key (per RSS configuration)
/// and share it: it is immutable and safe to use from any number of threads.
/// </remarks>
[DebuggerDisplay("Toeplitz, max input {MaxInputLength} bytes")]
public sealed class ToeplitzHash
{
    /// <summary>The key length virtio-net devices commonly offer as <c>rss_max_key_size</c> (40 bytes, as Microsoft's RSS).</summary>
    public const int StandardKeyLength = 40;

    /// <summary>The longest input RSS hashes: two IPv6 addresses and two ports (virtio 1.2 §5.1.6.4.3.3).</summary>
    public const int MaxTupleLength = 36;

    // _table[(position << 8) | value]: the contribution of input byte `value` at byte `position`.
    private readonly uint[] _table;

    /// <summary>
    /// Creates the tables for <paramref name="key"/>: inputs of up to <c>key.Length − 4</c> bytes can be hashed.
    /// </summary>
    /// <param name="key">The secret key; at least 5 bytes (input length + 4).</param>
    /// <exception cref="ArgumentException"><paramref name="key"/> is shorter than 5 bytes.</exception>
    public ToeplitzHash(ReadOnlySpan<byte> key)
    {
        if (key.Length < 5)
        {
            ThrowHelper.ThrowArgument(nameof(key), "A Toeplitz key must be at least 5 bytes (input length + 4).");
        }

        MaxInputLength = key.Length - 4;
        _table = BuildTables(key, MaxInputLength);
    }

    /// <summary>
    /// Creates the tables for inputs of up to <paramref name="maxInputLength"/> bytes; a key shorter than
    /// <c>maxInputLength + 4</c> bytes is extended with zero bits (so the missing key bits contribute nothing).
    /// A device uses this for a key shorter than 40 bytes, so that every hash type stays defined.
    /// </summary>
    /// <param name="key">The secret key, of any length (bytes past <c>maxInputLength + 4</c> are unused).</param>
    /// <param name="maxInputLength">The longest input to hash, 1 to 1024 bytes.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxInputLength"/> is outside 1..1024.</exception>
    public ToeplitzHash(ReadOnlySpan<byte> key, int maxInputLength)
    {
        if ((uint)(maxInputLength - 1) >= 1024u)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(maxInputLength), "The input length must be 1 to 1024 bytes.");
        }

        byte[] buffer = new byte[maxInputLength + 4];
        key.Slice(0, Math.Min(key.Length, buffer.Length)).CopyTo(buffer);
        MaxInputLength = maxInputLength;
        _table = BuildTables(buffer, maxInputLength);
    }

    /// <summary>Gets the longest input this instance hashes, in bytes.</summary>
    public int MaxInputLength { get; }

    /// <summary>Hashes <paramref name="input"/> (network byte order, as the fields appear in the packet).</summary>
    /// <param name="input">The bytes to hash; at most <see cref="MaxInputLength"/>.</param>
    /// <returns>The 32-bit Toeplitz hash.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="input"/> is longer than <see cref="MaxInputLength"/>.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Compute(ReadOnlySpan<byte> input)
    {
        if ((uint)input.Length > (uint)MaxInputLength)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(input), "The input is longer than the key allows.");
        }

        return ComputeUnchecked(input);
    }

    /// <summary>
    /// The definition, bit by bit (no tables): the reference the table-driven <see cref="Compute"/> is tested
    /// against. Slow; for tests and for one-off hashes.
    /// </summary>
    /// <param name="key">The key; at least <c>input.Length + 4</c> bytes.</param>
    /// <param name="input">The bytes to hash.</param>
    /// <returns>The 32-bit Toeplitz hash.</returns>
    /// <exception cref="ArgumentException"><paramref name="key"/> is shorter than <c>input.Length + 4</c> bytes.</exception>
    public static uint ComputeBitwise(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input)
    {
        if (key.Length < input.Length + 4)
        {
            ThrowHelper.ThrowArgument(nameof(key), "The key must be at least 4 bytes longer than the input.");
        }

        uint result = 0;

        // The leftmost 32 bits of the key; shifted left one bit per input bit, refilled from the key.
        uint window = (uint)(key[0] << 24 | key[1] << 16 | key[2] << 8 | key[3]);
        for (int i = 0; i < input.Length; i++)
        {
            byte next = key[i + 4];
            for (int bit = 7; bit >= 0; bit--)
            {
                if ((input[i] & (1 << bit)) != 0)
                {
                    result ^= window;
                }

                window = (window << 1) | (uint)((next >> bit) & 1);
            }
        }

        return result;
    }

    /// <summary>Hashes an input already known to be no longer than <see cref="MaxInputLength"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint ComputeUnchecked(ReadOnlySpan<byte> input)
    {
        Debug.Assert(input.Length <= MaxInputLength, "input longer than the tables");
        ref uint row = ref _table[0];
        ref byte data = ref MemoryMarshal.GetReference(input);
        int n = input.Length;
        uint h0 = 0, h1 = 0;

        // Four bytes per step from one unaligned load (little-endian order: byte 0 in the low bits); two
        // accumulators break the XOR dependency chain. Every table index stays inside its 256-entry row.
        while (n >= 4)
        {
            uint v = Unsafe.ReadUnaligned<uint>(ref data);
            if (!BitConverter.IsLittleEndian)
            {
                v = BinaryPrimitives.ReverseEndianness(v);
            }

            h0 ^= Unsafe.Add(ref row, (int)(v & 0xFF));
            h1 ^= Unsafe.Add(ref row, 256 + (int)((v >> 8) & 0xFF));
            h0 ^= Unsafe.Add(ref row, 512 + (int)((v >> 16) & 0xFF));
            h1 ^= Unsafe.Add(ref row, 768 + (int)(v >> 24));
            row = ref Unsafe.Add(ref row, 1024);
            data = ref Unsafe.Add(ref data, 4);
            n -= 4;
        }

        for (int i = 0; i < n; i++)
        {
            h0 ^= Unsafe.Add(ref row, (i << 8) | Unsafe.Add(ref data, i));
        }

        return h0 ^ h1;
    }

    private static uint[] BuildTables(ReadOnlySpan<byte> key, int positions)
    {
        Debug.Assert(key.Length >= positions + 4, "key too short for the positions");
        var table = new uint[positions << 8];
        for (int p = 0; p < positions; p++)
        {
            // The 40 key bits that the 8 input bits of byte p can select windows from.
            ulong bits = (ulong)key[p] << 32 | (ulong)key[p + 1] << 24 | (ulong)key[p + 2] << 16 | (ulong)key[p + 3] << 8 | key[p + 4];
            int row = p << 8;
            for (int bit = 0; bit < 8; bit++)
            {
                // Input bit 7 - bit (MSB first) selects the window starting `bit` bits into the 40.
                table[row | (0x80 >> bit)] = (uint)(bits >> (8 - bit));
            }

            // Every other value is the XOR of its bits' windows (linearity): v = lowest bit ^ the rest.
            for (int v = 3; v < 256; v++)
            {
                int low = v & -v;
                if (low != v)
                {
                    table[row | v] = table[row | low] ^ table[row | (v ^ low)];
                }
            }
        }

        return table;
    }
}
