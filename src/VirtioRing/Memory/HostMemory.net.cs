using System.Runtime.InteropServices;

namespace VirtioRing.Memory;

/// <summary>Native allocations for library-owned regions (net10.0: page-aligned NativeMemory).</summary>
internal static unsafe class HostMemory
{
    public static byte* AllocZeroed(ulong size)
    {
        byte* p = (byte*)NativeMemory.AlignedAlloc((nuint)size, 4096);
        NativeMemory.Clear(p, (nuint)size);
        return p;
    }

    public static void Free(byte* p) => NativeMemory.AlignedFree(p);
}
