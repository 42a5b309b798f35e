using System;
using System.Runtime.InteropServices;
using VirtioRing.Memory;

namespace VirtioRing.TestKit;

/// <summary>
/// Guest memory whose regions sit between guard bands of a known pattern in one host allocation.
/// <see cref="GuardsIntact"/> proves that nothing wrote outside the regions.
/// </summary>
public sealed unsafe class GuardedGuestMemory : IDisposable
{
    public const int GuardBytes = 4096;
    public const byte GuardPattern = 0xA5;

    private readonly byte* _block;
    private readonly ulong _blockSize;
    private readonly (ulong Offset, ulong Size)[] _layout;

    /// <summary>Creates guest memory with the given (start, size) regions, each surrounded by guards.</summary>
    public GuardedGuestMemory(params (ulong Start, ulong Size)[] regions)
    {
        _layout = new (ulong, ulong)[regions.Length];
        ulong total = GuardBytes;
        for (int i = 0; i < regions.Length; i++)
        {
            _layout[i] = (total, regions[i].Size);
            total += regions[i].Size + GuardBytes;
        }

        _blockSize = total;
        _block = (byte*)NativeMemory.AlignedAlloc((nuint)total, 4096);
        new Span<byte>(_block, checked((int)total)).Fill(GuardPattern);
        var list = new GuestRegion[regions.Length];
        for (int i = 0; i < regions.Length; i++)
        {
            new Span<byte>(_block + _layout[i].Offset, checked((int)regions[i].Size)).Clear();
            list[i] = GuestRegion.FromHost(new GuestAddress(regions[i].Start), (IntPtr)(_block + _layout[i].Offset), regions[i].Size);
        }

        Memory = new GuestMemory(list);
    }

    public GuestMemory Memory { get; }

    /// <summary>True when every guard byte still holds the pattern.</summary>
    public bool GuardsIntact()
    {
        ulong pos = 0;
        foreach ((ulong offset, ulong size) in _layout)
        {
            if (new Span<byte>(_block + pos, checked((int)(offset - pos))).IndexOfAnyExcept(GuardPattern) >= 0)
            {
                return false;
            }

            pos = offset + size;
        }

        return new Span<byte>(_block + pos, checked((int)(_blockSize - pos))).IndexOfAnyExcept(GuardPattern) < 0;
    }

    public void Dispose()
    {
        Memory.Dispose();
        NativeMemory.AlignedFree(_block);
    }
}
