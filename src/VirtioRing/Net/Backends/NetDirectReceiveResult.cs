using System;

namespace VirtioRing.Net.Backends;

/// <summary>What <see cref="INetDirectReceiveHost.ReceiveDirect"/> did.</summary>
/// <param name="status">Why it stopped.</param>
/// <param name="frames">How many frames it took from the reader (delivered, filtered or dropped).</param>
/// <param name="queue">The receive queue (pair index) it filled, or -1.</param>
public readonly struct NetDirectReceiveResult(NetDirectReceiveStatus status, int frames, int queue) : IEquatable<NetDirectReceiveResult>
{
    /// <summary>Gets why the call stopped.</summary>
    public NetDirectReceiveStatus Status { get; } = status;

    /// <summary>Gets how many frames the call took from the reader.</summary>
    public int Frames { get; } = frames;

    /// <summary>Gets the receive queue (pair index) the call filled, or -1 (for <see cref="INetBackendHost.WaitForReceiveBuffers"/>).</summary>
    public int Queue { get; } = queue;

    /// <summary>Compares two results.</summary>
    public static bool operator ==(NetDirectReceiveResult left, NetDirectReceiveResult right) => left.Equals(right);

    /// <summary>Compares two results.</summary>
    public static bool operator !=(NetDirectReceiveResult left, NetDirectReceiveResult right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(NetDirectReceiveResult other) => Status == other.Status && Frames == other.Frames && Queue == other.Queue;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NetDirectReceiveResult other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => ((int)Status * 397) ^ (Frames * 31) ^ Queue;

    /// <inheritdoc/>
    public override string ToString() => Status + " (" + Frames + " frames, queue " + Queue + ")";
}
