using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace VirtioRing.TestKit;

/// <summary>
/// The shape of a descriptor chain a test driver adds: the lengths of its device-readable
/// segments, then of its device-writable ones. Values, with structural equality.
/// </summary>
public sealed class ChainSpec : IEquatable<ChainSpec>
{
    private readonly uint[] _readable;
    private readonly uint[] _writable;

    /// <summary>Creates a chain shape.</summary>
    /// <param name="readable">The device-readable segment lengths, in chain order.</param>
    /// <param name="writable">The device-writable segment lengths, in chain order.</param>
    /// <exception cref="ArgumentException">The chain has no segment.</exception>
    public ChainSpec(IEnumerable<uint> readable, IEnumerable<uint> writable)
    {
        ArgumentNullException.ThrowIfNull(readable);
        ArgumentNullException.ThrowIfNull(writable);
        _readable = readable.ToArray();
        _writable = writable.ToArray();
        if (_readable.Length + _writable.Length == 0)
        {
            throw new ArgumentException("A chain has at least one segment.", nameof(readable));
        }
    }

    /// <summary>Gets the device-readable segment lengths.</summary>
    public IReadOnlyList<uint> Readable => _readable;

    /// <summary>Gets the device-writable segment lengths.</summary>
    public IReadOnlyList<uint> Writable => _writable;

    /// <summary>Gets the number of segments.</summary>
    public int SegmentCount => _readable.Length + _writable.Length;

    /// <summary>Gets the total device-readable length.</summary>
    public ulong ReadableLength => Sum(_readable);

    /// <summary>Gets the total device-writable length.</summary>
    public ulong WritableLength => Sum(_writable);

    /// <summary>Gets the longest segment.</summary>
    public uint MaxSegmentLength => Math.Max(_readable.Length == 0 ? 0 : _readable.Max(), _writable.Length == 0 ? 0 : _writable.Max());

    /// <summary>Gets the length of segment <paramref name="index"/> (readable ones first).</summary>
    /// <param name="index">The segment index.</param>
    /// <returns>The length.</returns>
    public uint LengthAt(int index) => index < _readable.Length ? _readable[index] : _writable[index - _readable.Length];

    /// <summary>Gets whether segment <paramref name="index"/> is device-writable.</summary>
    /// <param name="index">The segment index.</param>
    /// <returns><see langword="true"/> for writable segments.</returns>
    public bool IsWritableAt(int index) => index >= _readable.Length;

    /// <inheritdoc/>
    public bool Equals(ChainSpec? other) =>
        other is not null && _readable.AsSpan().SequenceEqual(other._readable) && _writable.AsSpan().SequenceEqual(other._writable);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as ChainSpec);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (uint l in _readable)
        {
            h.Add(l);
        }

        h.Add(-1);
        foreach (uint l in _writable)
        {
            h.Add(l);
        }

        return h.ToHashCode();
    }

    /// <summary>Formats the shape as <c>R[1,2] W[3]</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        var sb = new StringBuilder("R[");
        sb.AppendJoin(',', _readable.Select(l => l.ToString(CultureInfo.InvariantCulture)));
        sb.Append("] W[");
        sb.AppendJoin(',', _writable.Select(l => l.ToString(CultureInfo.InvariantCulture)));
        return sb.Append(']').ToString();
    }

    private static ulong Sum(uint[] values)
    {
        ulong total = 0;
        foreach (uint v in values)
        {
            total += v;
        }

        return total;
    }
}
