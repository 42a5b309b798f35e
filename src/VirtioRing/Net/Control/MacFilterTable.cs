using VirtioRing.Net;
using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace VirtioRing.Net.Control;

/// <summary>
/// One MAC filter table of <c>VIRTIO_NET_CTRL_MAC_TABLE_SET</c> (virtio 1.2 §5.1.6.5.2): unicast or
/// multicast. Immutable; lookups are allocation-free on the 48-bit key. When the driver sent more
/// addresses than the device keeps, the table is empty and <see cref="IsOverflow"/> is set, and the
/// filter accepts every address of its kind (the spec's footnote allows switching to all-multicast or
/// promiscuous; QEMU does the same with its <c>uni_overflow</c>/<c>multi_overflow</c>).
/// </summary>
[DebuggerDisplay("Count = {Count}, overflow = {IsOverflow}")]
public sealed class MacFilterTable : IReadOnlyList<MacAddress>
{
    private const int LinearSearchMax = 8;

    private readonly ulong[] _sorted;

    private MacFilterTable(ulong[] sorted, bool overflow)
    {
        _sorted = sorted;
        IsOverflow = overflow;
    }

    /// <summary>Gets the empty table (the reset state, §5.1.6.5.2: "an empty MAC filtering table on reset").</summary>
    public static MacFilterTable Empty { get; } = new(Array.Empty<ulong>(), overflow: false);

    /// <summary>Gets the overflowed table: no addresses kept, every address of the kind accepted.</summary>
    public static MacFilterTable Overflow { get; } = new(Array.Empty<ulong>(), overflow: true);

    /// <summary>Gets the number of distinct addresses kept.</summary>
    public int Count => _sorted.Length;

    /// <summary>Gets whether the driver sent more addresses than the device keeps (every address of the kind passes).</summary>
    public bool IsOverflow { get; }

    /// <summary>Gets an address, in ascending order of value.</summary>
    /// <param name="index">The index, in [0, <see cref="Count"/>).</param>
    /// <returns>The address.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is out of range.</exception>
    public MacAddress this[int index]
    {
        get
        {
            if ((uint)index >= (uint)_sorted.Length)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(index));
            }

            return new MacAddress(_sorted[index]);
        }
    }

    /// <summary>Gets whether the table holds an address (an overflowed table holds none).</summary>
    /// <param name="address">The address.</param>
    /// <returns><see langword="true"/> when listed.</returns>
    public bool Contains(MacAddress address) => ContainsKey(address.Value);

    /// <inheritdoc/>
    public IEnumerator<MacAddress> GetEnumerator()
    {
        for (int i = 0; i < _sorted.Length; i++)
        {
            yield return new MacAddress(_sorted[i]);
        }
    }

    /// <inheritdoc/>
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Builds a table from <paramref name="count"/> packed 6-byte addresses (sorted, duplicates removed).</summary>
    internal static MacFilterTable FromWire(ReadOnlySpan<byte> macs, int count)
    {
        Debug.Assert(macs.Length >= count * MacAddress.Length, "the caller sliced the addresses");
        if (count == 0)
        {
            return Empty;
        }

        var keys = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            keys[i] = MacAddress.ReadKey(macs.Slice(i * MacAddress.Length));
        }

        Array.Sort(keys);
        int distinct = 1;
        for (int i = 1; i < keys.Length; i++)
        {
            if (keys[i] != keys[distinct - 1])
            {
                keys[distinct++] = keys[i];
            }
        }

        if (distinct != keys.Length)
        {
            Array.Resize(ref keys, distinct);
        }

        return new MacFilterTable(keys, overflow: false);
    }

    /// <summary>The hot lookup: linear for a few entries, binary search beyond.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool ContainsKey(ulong key)
    {
        ulong[] keys = _sorted;
        if (keys.Length <= LinearSearchMax)
        {
            for (int i = 0; i < keys.Length; i++)
            {
                if (keys[i] == key)
                {
                    return true;
                }
            }

            return false;
        }

        return BinarySearch(keys, key);
    }

    private static bool BinarySearch(ulong[] keys, ulong key)
    {
        int lo = 0, hi = keys.Length - 1;
        while (lo <= hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            ulong k = keys[mid];
            if (k == key)
            {
                return true;
            }

            if (k < key)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return false;
    }
}
