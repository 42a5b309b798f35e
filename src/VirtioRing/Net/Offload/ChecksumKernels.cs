using System;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace VirtioRing.Net.Offload;

/// <summary>
/// The Internet checksum's inner loops (RFC 1071), in the host's native byte order: a buffer is summed as 16-bit words read
/// natively, and the 16-bit result is byte-swapped once at the end on a little-endian host (RFC 1071 §2(B), byte-order
/// independence). Every kernel returns a 64-bit ones'-complement accumulator (end-around carry), which
/// <see cref="Fold"/> reduces to 16 bits; 2^64 − 1 is a multiple of 2^16 − 1, so summing wider words is the same sum.
/// </summary>
/// <remarks>
/// A buffer is summed as if it started at an even offset; a trailing odd byte counts as the first byte of a word whose
/// second byte is zero. The per-target file picks the fastest kernel (<c>InternetChecksum.net.cs</c>: Vector256/Vector128;
/// <c>InternetChecksum.netstandard.cs</c>: <see cref="Vector{T}"/>). The portable kernels live here so tests on any target
/// can check each of them against a reference.
/// </remarks>
internal static class ChecksumKernels
{
    /// <summary>Adds two end-around-carry accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Add(ulong a, ulong b)
    {
        ulong s = unchecked(a + b);
        return s + (s < a ? 1UL : 0UL);
    }

    /// <summary>Reduces a 64-bit accumulator to a 16-bit ones'-complement sum, still in native byte order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(ulong sum)
    {
        uint lo = (uint)sum, hi = (uint)(sum >> 32);
        uint t = unchecked(lo + hi);
        t += t < lo ? 1U : 0U;
        t = (t & 0xFFFF) + (t >> 16);   // ≤ 0x1FFFE
        t = (t & 0xFFFF) + (t >> 16);   // ≤ 0xFFFF
        return (ushort)t;
    }

    /// <summary>Converts a native-order 16-bit sum to its numeric value as the big-endian (network order) word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ToNetwork(ushort native) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(native) : native;

    /// <summary>Converts a network-order numeric 16-bit value to the native-order domain the kernels sum in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromNetwork(ushort network) => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(network) : network;

    /// <summary>Scalar kernel: two 64-bit lanes of 32-bit words (no carries to track), then the tail.</summary>
    public static ulong SumScalar(ReadOnlySpan<byte> data)
    {
        ref byte p = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length;
        nuint i = 0;
        ulong a = 0, b = 0, c = 0, d = 0;
        for (; i + 16 <= length; i += 16)
        {
            ulong x = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i));
            ulong y = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i + 8));
            a += x & 0xFFFFFFFF;
            b += x >> 32;
            c += y & 0xFFFFFFFF;
            d += y >> 32;
        }

        // Each lane took at most 2^31 / 16 values below 2^32: the four lanes add up below 2^62, no overflow.
        return SumTail(ref p, i, length, a + b + c + d);
    }

    /// <summary>Portable SIMD kernel over <see cref="Vector{T}"/>: 32-bit words widened into 64-bit lanes.</summary>
    public static ulong SumVector(ReadOnlySpan<byte> data)
    {
        ref byte p = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length;
        nuint width = (nuint)Vector<byte>.Count;
        nuint i = 0;
        if (!Vector.IsHardwareAccelerated || length < 2 * width)
        {
            return SumScalar(data);
        }

        Vector<ulong> a0 = Vector<ulong>.Zero, a1 = Vector<ulong>.Zero, a2 = Vector<ulong>.Zero, a3 = Vector<ulong>.Zero;
        for (; i + (2 * width) <= length; i += 2 * width)
        {
            Vector<uint> v = Unsafe.ReadUnaligned<Vector<uint>>(ref Unsafe.Add(ref p, i));
            Vector<uint> w = Unsafe.ReadUnaligned<Vector<uint>>(ref Unsafe.Add(ref p, i + width));
            Vector.Widen(v, out Vector<ulong> vl, out Vector<ulong> vh);
            Vector.Widen(w, out Vector<ulong> wl, out Vector<ulong> wh);
            a0 += vl;
            a1 += vh;
            a2 += wl;
            a3 += wh;
        }

        Vector<ulong> all = a0 + a1 + a2 + a3;   // each lane < 2^62 (as in SumScalar)
        ulong s = 0;
        for (int k = 0; k < Vector<ulong>.Count; k++)
        {
            s += all[k];
        }

        return SumTail(ref p, i, length, s);
    }

    /// <summary>Sums bytes [<paramref name="i"/>, <paramref name="length"/>) onto <paramref name="sum"/> (below 2^62), 8 bytes at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SumTail(ref byte p, nuint i, nuint length, ulong sum)
    {
        for (; i + 8 <= length; i += 8)
        {
            ulong x = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i));
            sum += (x & 0xFFFFFFFF) + (x >> 32);
        }

        if (i + 4 <= length)
        {
            sum += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, i));
            i += 4;
        }

        if (i + 2 <= length)
        {
            sum += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, i));
            i += 2;
        }

        if (i < length)
        {
            // A trailing odd byte is the first byte of a word padded with zero (RFC 1071 §4.1).
            uint last = Unsafe.Add(ref p, i);
            sum += BitConverter.IsLittleEndian ? last : last << 8;
        }

        return sum;
    }
}
