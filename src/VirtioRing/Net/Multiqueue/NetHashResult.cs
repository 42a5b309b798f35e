using System;
using System.Diagnostics;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// A calculated hash and the type it was calculated over: what a device writes into <c>hash_value</c> and
/// <c>hash_report</c> of the 20-byte header (virtio 1.2 §5.1.6.4.4).
/// </summary>
[DebuggerDisplay("{Report} 0x{Value,h}")]
public readonly struct NetHashResult : IEquatable<NetHashResult>
{
    /// <summary>Creates a result.</summary>
    /// <param name="value">The hash value.</param>
    /// <param name="report">The hash type; <see cref="NetHashReport.None"/> when no hash was calculated.</param>
    public NetHashResult(uint value, NetHashReport report)
    {
        Value = value;
        Report = report;
    }

    /// <summary>Gets the "no hash calculated" result: value 0, <see cref="NetHashReport.None"/> (§5.1.6.4.4).</summary>
    public static NetHashResult None => default;

    /// <summary>Gets the hash value (0 when none was calculated).</summary>
    public uint Value { get; }

    /// <summary>Gets the hash type, <see cref="NetHashReport.None"/> when the frame was unclassified.</summary>
    public NetHashReport Report { get; }

    /// <summary>Gets a value indicating whether a hash was calculated (the frame was classified).</summary>
    public bool IsCalculated => Report != NetHashReport.None;

    /// <summary>Compares two results.</summary>
    /// <param name="left">The first result.</param>
    /// <param name="right">The second result.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(NetHashResult left, NetHashResult right) => left.Equals(right);

    /// <summary>Compares two results.</summary>
    /// <param name="left">The first result.</param>
    /// <param name="right">The second result.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(NetHashResult left, NetHashResult right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(NetHashResult other) => Value == other.Value && Report == other.Report;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NetHashResult other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => (int)Value ^ ((int)Report << 24);

    /// <inheritdoc/>
    public override string ToString() => Report == NetHashReport.None ? "None" : $"{Report} 0x{Value:x8}";
}
