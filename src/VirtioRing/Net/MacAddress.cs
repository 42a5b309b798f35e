using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace VirtioRing.Net;

/// <summary>
/// A 48-bit Ethernet MAC address held as one integer: the first byte on the wire is the most
/// significant, so the integer order is the byte order. Comparing two addresses is one compare.
/// </summary>
[DebuggerDisplay("{ToString(),nq}")]
public readonly struct MacAddress : IEquatable<MacAddress>, IComparable<MacAddress>
{
    /// <summary>The length of an address on the wire.</summary>
    public const int Length = 6;

    private const ulong Mask = 0xFFFF_FFFF_FFFFUL;

    /// <summary>Creates an address from its 48-bit value (first wire byte in bits 47..40).</summary>
    /// <param name="value">The value; bits above 47 must be zero.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> has bits above 47.</exception>
    public MacAddress(ulong value)
    {
        if ((value & ~Mask) != 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(value), "A MAC address has 48 bits.");
        }

        Value = value;
    }

    /// <summary>Gets the broadcast address <c>ff:ff:ff:ff:ff:ff</c>.</summary>
    public static MacAddress Broadcast => new(Mask);

    /// <summary>Gets the 48-bit value (first wire byte in bits 47..40).</summary>
    public ulong Value { get; }

    /// <summary>Gets whether the group bit (bit 0 of the first byte) is set: multicast or broadcast.</summary>
    public bool IsMulticast => (Value & (1UL << 40)) != 0;

    /// <summary>Gets whether this is the broadcast address.</summary>
    public bool IsBroadcast => Value == Mask;

    /// <summary>Reads exactly 6 bytes.</summary>
    /// <param name="source">At least 6 bytes; the first 6 are read.</param>
    /// <returns>The address.</returns>
    /// <exception cref="ArgumentException"><paramref name="source"/> is shorter than 6 bytes.</exception>
    public static MacAddress Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Length)
        {
            ThrowHelper.ThrowArgument(nameof(source), "A MAC address needs 6 bytes.");
        }

        return new MacAddress(ReadKey(source));
    }

    /// <summary>Parses <c>aa:bb:cc:dd:ee:ff</c> (or with dashes).</summary>
    /// <param name="text">The text.</param>
    /// <returns>The address.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="FormatException">The text is not six hex pairs separated by ':' or '-'.</exception>
    public static MacAddress Parse(string text)
    {
        if (text is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(text));
        }

        if (text.Length != 17)
        {
            ThrowFormat();
        }

        ulong value = 0;
        for (int i = 0; i < 6; i++)
        {
            if (i > 0 && text[(3 * i) - 1] != ':' && text[(3 * i) - 1] != '-')
            {
                ThrowFormat();
            }

            int high = HexValue(text[3 * i]), low = HexValue(text[(3 * i) + 1]);
            if ((high | low) < 0)
            {
                ThrowFormat();
            }

            value = (value << 8) | (uint)((high << 4) | low);
        }

        return new MacAddress(value);
    }

    /// <summary>Writes exactly 6 bytes.</summary>
    /// <param name="destination">At least 6 bytes.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 6 bytes.</exception>
    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < Length)
        {
            ThrowHelper.ThrowArgument(nameof(destination), "A MAC address needs 6 bytes.");
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(Value >> 16));
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(4), (ushort)Value);
    }

    /// <inheritdoc/>
    public bool Equals(MacAddress other) => Value == other.Value;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is MacAddress other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Value.GetHashCode();

    /// <inheritdoc/>
    public int CompareTo(MacAddress other) => Value.CompareTo(other.Value);

    /// <summary>Formats as <c>aa:bb:cc:dd:ee:ff</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        ulong v = Value;
        return string.Format(CultureInfo.InvariantCulture, "{0:x2}:{1:x2}:{2:x2}:{3:x2}:{4:x2}:{5:x2}",
            (byte)(v >> 40), (byte)(v >> 32), (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v);
    }

    /// <summary>Compares two addresses.</summary>
    /// <param name="left">The first address.</param>
    /// <param name="right">The second address.</param>
    /// <returns><see langword="true"/> when equal.</returns>
    public static bool operator ==(MacAddress left, MacAddress right) => left.Value == right.Value;

    /// <summary>Compares two addresses.</summary>
    /// <param name="left">The first address.</param>
    /// <param name="right">The second address.</param>
    /// <returns><see langword="true"/> when different.</returns>
    public static bool operator !=(MacAddress left, MacAddress right) => left.Value != right.Value;

    /// <summary>Orders two addresses by value.</summary>
    /// <param name="left">The first address.</param>
    /// <param name="right">The second address.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> sorts first.</returns>
    public static bool operator <(MacAddress left, MacAddress right) => left.Value < right.Value;

    /// <summary>Orders two addresses by value.</summary>
    /// <param name="left">The first address.</param>
    /// <param name="right">The second address.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> sorts last.</returns>
    public static bool operator >(MacAddress left, MacAddress right) => left.Value > right.Value;

    /// <summary>Orders two addresses by value.</summary>
    /// <param name="left">The first address.</param>
    /// <param name="right">The second address.</param>
    /// <returns><see langword="true"/> unless <paramref name="left"/> sorts last.</returns>
    public static bool operator <=(MacAddress left, MacAddress right) => left.Value <= right.Value;

    /// <summary>Orders two addresses by value.</summary>
    /// <param name="left">The first address.</param>
    /// <param name="right">The second address.</param>
    /// <returns><see langword="true"/> unless <paramref name="left"/> sorts first.</returns>
    public static bool operator >=(MacAddress left, MacAddress right) => left.Value >= right.Value;

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowFormat() => throw new FormatException("Expected six hex pairs separated by ':' or '-'.");

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>The 48-bit key of the 6 bytes at the start of <paramref name="source"/> (caller checked the length).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong ReadKey(ReadOnlySpan<byte> source) =>
        ((ulong)BinaryPrimitives.ReadUInt32BigEndian(source) << 16) | BinaryPrimitives.ReadUInt16BigEndian(source.Slice(4));
}
