using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace VirtioRing.Memory;

/// <summary>
/// The region table of a guest: non-overlapping guest-physical ranges mapped to host memory, and
/// the only way the library reaches guest memory. Every translation of (address, length) is
/// bounds-checked with arithmetic that cannot wrap.
/// </summary>
/// <remarks>
/// <para>A range must lie wholly inside one region. A range that runs past the end of its region is
/// rejected with <see cref="GuestMemoryStatus.CrossesRegionEnd"/>, even when the next region starts
/// exactly there: regions are not assumed to be contiguous in host memory, and splitting a
/// descriptor into two segments would give the device a chain the driver never wrote. Linux, QEMU
/// and DPDK guests place each buffer inside one memory slot, so this costs nothing in practice.</para>
/// <para>The table is immutable; <see cref="WithRegion"/> and <see cref="WithoutRegion"/> return a
/// new table, so a VMM can swap tables while queues keep using the old one. Lookups check the
/// region that answered last first; with one or two regions a translation is a few compares.</para>
/// <para>Thread safety: translations are safe from any number of threads.</para>
/// </remarks>
[DebuggerDisplay("GuestMemory, {RegionCount} region(s)")]
public sealed unsafe class GuestMemory : IDisposable
{
    private readonly GuestRegion[] _regions;   // sorted by Start, non-overlapping
    private readonly bool _ownsRegions;
    private int _lastHit;                      // benign race: any value in range is a valid hint

    /// <summary>Creates a region table over the given regions.</summary>
    /// <param name="regions">Non-overlapping regions, in any order.</param>
    /// <param name="ownsRegions">When <see langword="true"/>, <see cref="Dispose"/> disposes the regions.</param>
    /// <exception cref="ArgumentNullException"><paramref name="regions"/> is null.</exception>
    /// <exception cref="ArgumentException">Two regions overlap, or there are none.</exception>
    public GuestMemory(IEnumerable<GuestRegion> regions, bool ownsRegions = true)
    {
        if (regions is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(regions));
        }

        var list = new List<GuestRegion>(regions);
        if (list.Count == 0)
        {
            ThrowHelper.ThrowArgument(nameof(regions), "A guest memory needs at least one region.");
        }

        list.Sort(static (a, b) => a.Start.CompareTo(b.Start));
        for (int i = 1; i < list.Count; i++)
        {
            GuestRegion prev = list[i - 1];
            // prev ends at or before the next start; prev.End == 0 means it runs to 2^64.
            if (prev.End.Value == 0 || prev.End > list[i].Start)
            {
                ThrowHelper.ThrowArgument(nameof(regions), $"Regions [{prev.Start}, {prev.End}) and [{list[i].Start}, {list[i].End}) overlap.");
            }
        }

        _regions = list.ToArray();
        _ownsRegions = ownsRegions;
    }

    /// <summary>Allocates a guest memory of one zeroed, library-owned region.</summary>
    /// <param name="start">The guest-physical start address.</param>
    /// <param name="size">The size in bytes.</param>
    /// <returns>A guest memory that frees its region when disposed.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is zero or the region wraps 2^64.</exception>
    public static GuestMemory Allocate(GuestAddress start, ulong size) =>
        new(new[] { GuestRegion.Allocate(start, size) });

    /// <summary>Gets the number of regions.</summary>
    public int RegionCount => _regions.Length;

    /// <summary>Gets the regions, sorted by start address.</summary>
    public IReadOnlyList<GuestRegion> Regions => _regions;

    /// <summary>Returns a new table with one more region; the regions are shared, not owned by the new table.</summary>
    /// <param name="region">The region to add.</param>
    /// <returns>The new table.</returns>
    /// <exception cref="ArgumentException">The region overlaps an existing one.</exception>
    public GuestMemory WithRegion(GuestRegion region)
    {
        var list = new List<GuestRegion>(_regions) { region };
        return new GuestMemory(list, ownsRegions: false);
    }

    /// <summary>Returns a new table without the region that starts at <paramref name="start"/>; regions are not owned by the new table.</summary>
    /// <param name="start">The start address of the region to remove.</param>
    /// <returns>The new table.</returns>
    /// <exception cref="ArgumentException">No region starts there, or it is the only one.</exception>
    public GuestMemory WithoutRegion(GuestAddress start)
    {
        var list = new List<GuestRegion>(_regions.Length);
        foreach (GuestRegion r in _regions)
        {
            if (r.Start != start)
            {
                list.Add(r);
            }
        }

        if (list.Count == _regions.Length)
        {
            ThrowHelper.ThrowArgument(nameof(start), $"No region starts at {start}.");
        }

        return new GuestMemory(list, ownsRegions: false);
    }

    /// <summary>Translates a guest range to a span of host memory.</summary>
    /// <param name="address">The guest-physical start of the range.</param>
    /// <param name="length">The length in bytes.</param>
    /// <param name="span">The host memory of the range, when the result is <see cref="GuestMemoryStatus.Ok"/>.</param>
    /// <returns><see cref="GuestMemoryStatus.Ok"/> or why the range cannot be translated.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public GuestMemoryStatus TryGetSpan(GuestAddress address, ulong length, out Span<byte> span)
    {
        GuestMemoryStatus status = TryTranslate(address.Value, length, out byte* host);
        span = status == GuestMemoryStatus.Ok ? new Span<byte>(host, (int)length) : default;
        return status;
    }

    /// <summary>Translates a guest range to a span of host memory, or throws.</summary>
    /// <param name="address">The guest-physical start of the range.</param>
    /// <param name="length">The length in bytes.</param>
    /// <returns>The host memory of the range.</returns>
    /// <exception cref="GuestMemoryException">The range cannot be translated.</exception>
    public Span<byte> GetSpan(GuestAddress address, ulong length)
    {
        GuestMemoryStatus status = TryTranslate(address.Value, length, out byte* host);
        if (status != GuestMemoryStatus.Ok)
        {
            ThrowHelper.ThrowGuestMemory(status, address, length);
        }

        return new Span<byte>(host, (int)length);
    }

    /// <summary>Copies bytes from guest memory.</summary>
    /// <param name="address">The guest-physical source address.</param>
    /// <param name="destination">Receives exactly <c>destination.Length</c> bytes.</param>
    /// <exception cref="GuestMemoryException">The range cannot be translated.</exception>
    public void Read(GuestAddress address, Span<byte> destination) =>
        GetSpan(address, (ulong)destination.Length).CopyTo(destination);

    /// <summary>Copies bytes into guest memory.</summary>
    /// <param name="address">The guest-physical destination address.</param>
    /// <param name="source">The bytes to write, all of them.</param>
    /// <exception cref="GuestMemoryException">The range cannot be translated.</exception>
    public void Write(GuestAddress address, ReadOnlySpan<byte> source) =>
        source.CopyTo(GetSpan(address, (ulong)source.Length));

    /// <summary>
    /// Translates a guest range to a host pointer. The one place where guest addresses become
    /// host addresses: both checks subtract, so neither can wrap.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal GuestMemoryStatus TryTranslate(ulong address, ulong length, out byte* host)
    {
        GuestRegion[] regions = _regions;
        int hint = _lastHit;
        GuestRegion r = regions[hint];
        ulong offset = address - r.Start.Value;   // wraps to a huge value when address < Start
        if (offset < r.Size && length <= r.Size - offset && length <= int.MaxValue)
        {
            host = r.Host + offset;
            return GuestMemoryStatus.Ok;
        }

        return TryTranslateSlow(address, length, out host);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private GuestMemoryStatus TryTranslateSlow(ulong address, ulong length, out byte* host)
    {
        host = null;
        if (unchecked(address + length) < address && unchecked(address + length) != 0)
        {
            return GuestMemoryStatus.AddressOverflow;
        }

        int index = FindRegionIndex(address);
        if (index < 0)
        {
            return GuestMemoryStatus.Unmapped;
        }

        GuestRegion r = _regions[index];
        ulong offset = address - r.Start.Value;
        if (length > r.Size - offset)
        {
            return GuestMemoryStatus.CrossesRegionEnd;
        }

        if (length > int.MaxValue)
        {
            return GuestMemoryStatus.TooLong;
        }

        _lastHit = index;
        host = r.Host + offset;
        return GuestMemoryStatus.Ok;
    }

    /// <summary>
    /// The region that holds <paramref name="address"/>, or null. For callers that keep a last-hit
    /// hint of their own (a device queue's chain store): they check their copy of the region first
    /// and come here after a miss, so no mutable state is shared between queues.
    /// </summary>
    internal GuestRegion? FindRegion(ulong address)
    {
        int index = FindRegionIndex(address);
        return index < 0 ? null : _regions[index];
    }

    /// <summary>Binary search over the sorted, non-overlapping regions; −1 when no region holds the address.</summary>
    private int FindRegionIndex(ulong address)
    {
        GuestRegion[] regions = _regions;
        int lo = 0, hi = regions.Length - 1;
        while (lo <= hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            GuestRegion r = regions[mid];
            if (address < r.Start.Value)
            {
                hi = mid - 1;
            }
            else if (address - r.Start.Value >= r.Size)
            {
                lo = mid + 1;
            }
            else
            {
                return mid;
            }
        }

        return -1;
    }

    /// <summary>Disposes the regions when this table owns them.</summary>
    public void Dispose()
    {
        if (!_ownsRegions)
        {
            return;
        }

        foreach (GuestRegion r in _regions)
        {
            r.Dispose();
        }
    }
}
