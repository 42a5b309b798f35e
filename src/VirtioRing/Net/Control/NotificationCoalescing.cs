using System;
using System.Diagnostics;

namespace VirtioRing.Net.Control;

/// <summary>
/// <c>struct virtio_net_ctrl_coal { le32 max_packets; le32 max_usecs; }</c> (virtio 1.3 §5.1.6.5.9):
/// notify after <see cref="MaxPackets"/> packets or <see cref="MaxMicroseconds"/> µs, whichever comes
/// first; either being 0 means notify after every packet. The reset value is all zeros.
/// </summary>
/// <param name="maxPackets">Maximum packets before a notification.</param>
/// <param name="maxMicroseconds">Maximum microseconds to delay a notification.</param>
[DebuggerDisplay("packets={MaxPackets} usecs={MaxMicroseconds}")]
public readonly struct NotificationCoalescing(uint maxPackets, uint maxMicroseconds) : IEquatable<NotificationCoalescing>
{
    /// <summary>The wire length of the structure.</summary>
    public const int Length = 8;

    /// <summary>Gets <c>max_packets</c>.</summary>
    public uint MaxPackets { get; } = maxPackets;

    /// <summary>Gets <c>max_usecs</c>.</summary>
    public uint MaxMicroseconds { get; } = maxMicroseconds;

    /// <summary>Gets whether coalescing is off (either limit 0: notify after every packet).</summary>
    public bool IsDisabled => MaxPackets == 0 || MaxMicroseconds == 0;

    /// <inheritdoc/>
    public bool Equals(NotificationCoalescing other) => MaxPackets == other.MaxPackets && MaxMicroseconds == other.MaxMicroseconds;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NotificationCoalescing other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => (MaxPackets, MaxMicroseconds).GetHashCode();

    /// <inheritdoc/>
    public override string ToString() => $"packets={MaxPackets} usecs={MaxMicroseconds}";

    /// <summary>Compares two values.</summary>
    /// <param name="left">The first value.</param>
    /// <param name="right">The second value.</param>
    /// <returns><see langword="true"/> when equal.</returns>
    public static bool operator ==(NotificationCoalescing left, NotificationCoalescing right) => left.Equals(right);

    /// <summary>Compares two values.</summary>
    /// <param name="left">The first value.</param>
    /// <param name="right">The second value.</param>
    /// <returns><see langword="true"/> when different.</returns>
    public static bool operator !=(NotificationCoalescing left, NotificationCoalescing right) => !left.Equals(right);
}
