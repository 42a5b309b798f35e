using System;
using System.Diagnostics;
using VirtioRing.Memory;

namespace VirtioRing.Queues;

/// <summary>One buffer of a descriptor chain: a guest range and whether the device writes it.</summary>
/// <param name="address">The guest-physical address.</param>
/// <param name="length">The length in bytes.</param>
/// <param name="isDeviceWritable"><see langword="true"/> when the device writes the buffer.</param>
[DebuggerDisplay("{Address} len={Length} writable={IsDeviceWritable}")]
public readonly struct BufferSegment(GuestAddress address, uint length, bool isDeviceWritable) : IEquatable<BufferSegment>
{
    /// <summary>Gets the guest-physical address.</summary>
    public GuestAddress Address { get; } = address;

    /// <summary>Gets the length in bytes.</summary>
    public uint Length { get; } = length;

    /// <summary>Gets whether the device writes the buffer (<c>VIRTQ_DESC_F_WRITE</c>).</summary>
    public bool IsDeviceWritable { get; } = isDeviceWritable;

    /// <summary>Creates a segment the device reads.</summary>
    /// <param name="address">The guest-physical address.</param>
    /// <param name="length">The length in bytes.</param>
    /// <returns>The segment.</returns>
    public static BufferSegment Readable(GuestAddress address, uint length) => new(address, length, false);

    /// <summary>Creates a segment the device writes.</summary>
    /// <param name="address">The guest-physical address.</param>
    /// <param name="length">The length in bytes.</param>
    /// <returns>The segment.</returns>
    public static BufferSegment Writable(GuestAddress address, uint length) => new(address, length, true);

    /// <inheritdoc/>
    public bool Equals(BufferSegment other) =>
        Address == other.Address && Length == other.Length && IsDeviceWritable == other.IsDeviceWritable;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is BufferSegment other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => (Address.Value, Length, IsDeviceWritable).GetHashCode();

    /// <summary>Compares two segments.</summary>
    /// <param name="left">The first segment.</param>
    /// <param name="right">The second segment.</param>
    /// <returns><see langword="true"/> when equal.</returns>
    public static bool operator ==(BufferSegment left, BufferSegment right) => left.Equals(right);

    /// <summary>Compares two segments.</summary>
    /// <param name="left">The first segment.</param>
    /// <param name="right">The second segment.</param>
    /// <returns><see langword="true"/> when different.</returns>
    public static bool operator !=(BufferSegment left, BufferSegment right) => !left.Equals(right);
}
