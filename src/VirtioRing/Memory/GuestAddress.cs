using System;
using System.Diagnostics;
using System.Globalization;

namespace VirtioRing.Memory;

/// <summary>A guest-physical address: a 64-bit number in the guest's address space, never a host pointer.</summary>
/// <param name="value">The raw 64-bit guest-physical address.</param>
[DebuggerDisplay("{ToString(),nq}")]
public readonly struct GuestAddress(ulong value) : IEquatable<GuestAddress>, IComparable<GuestAddress>
{
    /// <summary>Gets the raw 64-bit guest-physical address.</summary>
    public ulong Value { get; } = value;

    /// <summary>Returns the address <paramref name="offset"/> bytes further on, or <see langword="false"/> when that wraps past 2^64.</summary>
    /// <param name="offset">The number of bytes to add.</param>
    /// <param name="result">The resulting address when the addition does not wrap.</param>
    /// <returns><see langword="true"/> when the sum fits in 64 bits.</returns>
    public bool TryAdd(ulong offset, out GuestAddress result)
    {
        ulong sum = unchecked(Value + offset);
        result = new GuestAddress(sum);
        return sum >= Value;
    }

    /// <summary>Returns the address <paramref name="offset"/> bytes further on.</summary>
    /// <param name="offset">The number of bytes to add.</param>
    /// <returns>The address <paramref name="offset"/> bytes after this one.</returns>
    /// <exception cref="OverflowException">The sum wraps past 2^64.</exception>
    public GuestAddress Add(ulong offset) => new(checked(Value + offset));

    /// <summary>Tells whether the address is a multiple of <paramref name="alignment"/> (a power of two).</summary>
    /// <param name="alignment">A power of two.</param>
    /// <returns><see langword="true"/> when aligned.</returns>
    public bool IsAligned(ulong alignment) => (Value & (alignment - 1)) == 0;

    /// <inheritdoc/>
    public bool Equals(GuestAddress other) => Value == other.Value;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is GuestAddress other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Value.GetHashCode();

    /// <inheritdoc/>
    public int CompareTo(GuestAddress other) => Value.CompareTo(other.Value);

    /// <summary>Formats the address as <c>0x</c> and 16 hexadecimal digits.</summary>
    /// <returns>The formatted address.</returns>
    public override string ToString() => "0x" + Value.ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>Compares two addresses for equality.</summary>
    /// <param name="left">The first address.</param>
    /// <param name="right">The second address.</param>
    /// <returns><see langword="true"/> when equal.</returns>
    public static bool operator ==(GuestAddress left, GuestAddress right) => left.Value == right.Value;

    /// <summary>Compares two addresses for inequality.</summary>
    /// <param name="left">The first address.</param>
    /// <param name="right">The second address.</param>
    /// <returns><see langword="true"/> when different.</returns>
    public static bool operator !=(GuestAddress left, GuestAddress right) => left.Value != right.Value;

    /// <summary>Orders two addresses.</summary>
    /// <param name="left">The first address.</param>
    /// <param name="right">The second address.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> is lower.</returns>
    public static bool operator <(GuestAddress left, GuestAddress right) => left.Value < right.Value;

    /// <summary>Orders two addresses.</summary>
    /// <param name="left">The first address.</param>
    /// <param name="right">The second address.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> is higher.</returns>
    public static bool operator >(GuestAddress left, GuestAddress right) => left.Value > right.Value;

    /// <summary>Orders two addresses.</summary>
    /// <param name="left">The first address.</param>
    /// <param name="right">The second address.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> is lower or equal.</returns>
    public static bool operator <=(GuestAddress left, GuestAddress right) => left.Value <= right.Value;

    /// <summary>Orders two addresses.</summary>
    /// <param name="left">The first address.</param>
    /// <param name="right">The second address.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> is higher or equal.</returns>
    public static bool operator >=(GuestAddress left, GuestAddress right) => left.Value >= right.Value;
}
