using System;
using System.Runtime.InteropServices;

namespace VirtioRing.Memory;

/// <summary>Native allocations for library-owned regions (netstandard2.0: HGlobal, 16-byte aligned on 64-bit hosts).</summary>
internal static unsafe class HostMemory
{
    public static byte* AllocZeroed(ulong size)
    {
        byte* p = (byte*)Marshal.AllocHGlobal(checked((IntPtr)(long)size));
        for (ulong done = 0; done < size;)
        {
            int chunk = (int)Math.Min(size - done, int.MaxValue);
            new Span<byte>(p + done, chunk).Clear();
            done += (ulong)chunk;
        }

        return p;
    }

    public static void Free(byte* p) => Marshal.FreeHGlobal((IntPtr)p);
}
