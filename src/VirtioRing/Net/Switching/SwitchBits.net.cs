using System.Numerics;
using System.Runtime.CompilerServices;

namespace VirtioRing.Net.Switching;

/// <summary>Port-mask helpers (net10.0: hardware bit scan).</summary>
internal static class SwitchBits
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int LowestIndex(ulong mask) => BitOperations.TrailingZeroCount(mask);
}
