using System;
using System.Runtime.CompilerServices;

namespace VirtioRing.Net.Offload;

/// <content>
/// netstandard2.0 kernel: <see cref="System.Numerics.Vector{T}"/> (System.Numerics.Vectors, a dependency of System.Memory)
/// when the runtime accelerates it, else the scalar kernel.
/// </content>
public static partial class InternetChecksum
{
    /// <summary>Sums <paramref name="data"/> natively (see <see cref="ChecksumKernels"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SumNative(ReadOnlySpan<byte> data) => ChecksumKernels.SumVector(data);
}
