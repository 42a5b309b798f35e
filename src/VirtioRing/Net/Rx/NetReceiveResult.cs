using System;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VirtioRing.Net.Rx;

/// <summary>What <see cref="NetReceiveWriter"/> did with a frame.</summary>
[DebuggerDisplay("{Status} buffers={Buffers} bytes={BytesWritten}")]
[StructLayout(LayoutKind.Auto)]
public readonly struct NetReceiveResult : IEquatable<NetReceiveResult>
{
    internal NetReceiveResult(NetReceiveStatus status, int buffers, uint bytesWritten)
    {
        Status = status;
        Buffers = buffers;
        BytesWritten = bytesWritten;
    }

    /// <summary>Gets the outcome.</summary>
    public NetReceiveStatus Status { get; }

    /// <summary>Gets the number of buffers (chains) the frame used: its <c>num_buffers</c>; zero unless delivered.</summary>
    public int Buffers { get; }

    /// <summary>Gets the bytes written, virtio header included; zero unless delivered.</summary>
    public uint BytesWritten { get; }

    /// <summary>Gets whether the frame was delivered.</summary>
    public bool IsDelivered => Status == NetReceiveStatus.Delivered;

    /// <inheritdoc/>
    public bool Equals(NetReceiveResult other) => Status == other.Status && Buffers == other.Buffers && BytesWritten == other.BytesWritten;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NetReceiveResult other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => ((int)Status * 65599) ^ (Buffers * 31) ^ (int)BytesWritten;

    /// <summary>Compares two results.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(NetReceiveResult left, NetReceiveResult right) => left.Equals(right);

    /// <summary>Compares two results.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(NetReceiveResult left, NetReceiveResult right) => !left.Equals(right);
}
