using System.Runtime.CompilerServices;

namespace VirtioRing.Net.Switching;

/// <summary>Port-mask helpers (netstandard2.0: a de Bruijn bit scan, as there is no BitOperations).</summary>
internal static class SwitchBits
{
    private static readonly byte[] DeBruijn =
    [
        0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4, 62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
        63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6,
    ];

    /// <summary>The index of the lowest set bit; <paramref name="mask"/> is not zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int LowestIndex(ulong mask) => DeBruijn[(int)(((mask & (0 - mask)) * 0x03F79D71B4CB0A89UL) >> 58)];
}
