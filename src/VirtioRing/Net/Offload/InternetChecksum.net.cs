using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace VirtioRing.Net.Offload;

/// <content>net10.0 kernel: Vector256 (AVX2) or Vector128 (SSE2, AdvSimd), falling back to the scalar kernel.</content>
public static partial class InternetChecksum
{
    /// <summary>Sums <paramref name="data"/> natively (see <see cref="ChecksumKernels"/>) with the widest accelerated vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SumNative(ReadOnlySpan<byte> data)
    {
        if (Vector256.IsHardwareAccelerated && data.Length >= 64)
        {
            return SumVector256(data);
        }

        if (Vector128.IsHardwareAccelerated && data.Length >= 32)
        {
            return SumVector128(data);
        }

        return ChecksumKernels.SumScalar(data);
    }

    /// <summary>
    /// 128 bytes per iteration into four pairs of 64-bit lanes: the low and the high 32 bits of each 64-bit word are added
    /// to separate accumulators (an AND and a shift, no carries to track). A lane takes at most 2^31 / 32 values below 2^32,
    /// so nothing overflows for any span.
    /// </summary>
    internal static ulong SumVector256(ReadOnlySpan<byte> data)
    {
        ref byte p = ref MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length;
        nuint i = 0;
        Vector256<ulong> mask = Vector256.Create(0xFFFF_FFFFUL);
        Vector256<ulong> l0 = Vector256<ulong>.Zero, h0 = Vector256<ulong>.Zero, l1 = Vector256<ulong>.Zero, h1 = Vector256<ulong>.Zero;
        Vector256<ulong> l2 = Vector256<ulong>.Zero, h2 = Vector256<ulong>.Zero, l3 = Vector256<ulong>.Zero, h3 = Vector256<ulong>.Zero;
        for (; i + 128 <= length; i += 128)
        {
            Vector256<ulong> v0 = Vector256.LoadUnsafe(ref p, i).AsUInt64();
            Vector256<ulong> v1 = Vector256.LoadUnsafe(ref p, i + 32).AsUInt64();
            Vector256<ulong> v2 = Vector256.LoadUnsafe(ref p, i + 64).AsUInt64();
            Vector256<ulong> v3 = Vector256.LoadUnsafe(ref p, i + 96).AsUInt64();
            l0 += v0 & mask;
            h0 += v0 >>> 32;
            l1 += v1 & mask;
            h1 += v1 >>> 32;
            l2 += v2 & mask;
            h2 += v2 >>> 32;
            l3 += v3 & mask;
            h3 += v3 >>> 32;
        }

        for (; i + 32 <= length; i += 32)
        {
            Vector256<ulong> v0 = Vector256.LoadUnsafe(ref p, i).AsUInt64();
            l0 += v0 & mask;
            h0 += v0 >>> 32;
        }

        Vector256<ulong> all = ((l0 + h0) + (l1 + h1)) + ((l2 + h2) + (l3 + h3));
        return ChecksumKernels.SumTail(ref p, i, length, Vector256.Sum(all));
    }

    /// <summary>The <see cref="SumVector256"/> loop on 128-bit vectors (64 bytes per iteration).</summary>
    internal static ulong SumVector128(ReadOnlySpan<byte> data)
    {
        ref byte p = ref MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length;
        nuint i = 0;
        Vector128<ulong> mask = Vector128.Create(0xFFFF_FFFFUL);
        Vector128<ulong> l0 = Vector128<ulong>.Zero, h0 = Vector128<ulong>.Zero, l1 = Vector128<ulong>.Zero, h1 = Vector128<ulong>.Zero;
        Vector128<ulong> l2 = Vector128<ulong>.Zero, h2 = Vector128<ulong>.Zero, l3 = Vector128<ulong>.Zero, h3 = Vector128<ulong>.Zero;
        for (; i + 64 <= length; i += 64)
        {
            Vector128<ulong> v0 = Vector128.LoadUnsafe(ref p, i).AsUInt64();
            Vector128<ulong> v1 = Vector128.LoadUnsafe(ref p, i + 16).AsUInt64();
            Vector128<ulong> v2 = Vector128.LoadUnsafe(ref p, i + 32).AsUInt64();
            Vector128<ulong> v3 = Vector128.LoadUnsafe(ref p, i + 48).AsUInt64();
            l0 += v0 & mask;
            h0 += v0 >>> 32;
            l1 += v1 & mask;
            h1 += v1 >>> 32;
            l2 += v2 & mask;
            h2 += v2 >>> 32;
            l3 += v3 & mask;
            h3 += v3 >>> 32;
        }

        for (; i + 16 <= length; i += 16)
        {
            Vector128<ulong> v0 = Vector128.LoadUnsafe(ref p, i).AsUInt64();
            l0 += v0 & mask;
            h0 += v0 >>> 32;
        }

        Vector128<ulong> all = ((l0 + h0) + (l1 + h1)) + ((l2 + h2) + (l3 + h3));
        return ChecksumKernels.SumTail(ref p, i, length, Vector128.Sum(all));
    }
}
