using System;

namespace VirtioRing.Net.Backends;

/// <summary>The outcome of <see cref="INetBackendHost.Deliver"/>: a status and the receive queue it concerns.</summary>
public readonly struct NetDeliveryResult : IEquatable<NetDeliveryResult>
{
    /// <summary>Initializes a new instance of the <see cref="NetDeliveryResult"/> struct.</summary>
    /// <param name="status">The status.</param>
    /// <param name="queue">The receive queue (-1 when none was chosen).</param>
    public NetDeliveryResult(NetDeliveryStatus status, int queue)
    {
        Status = status;
        Queue = queue;
    }

    /// <summary>Gets the status.</summary>
    public NetDeliveryStatus Status { get; }

    /// <summary>Gets the receive queue the frame went to or was meant for (-1 when none was chosen).</summary>
    public int Queue { get; }

    /// <summary>Gets whether the frame was delivered.</summary>
    public bool IsDelivered => Status == NetDeliveryStatus.Delivered;

    /// <inheritdoc/>
    public bool Equals(NetDeliveryResult other) => Status == other.Status && Queue == other.Queue;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NetDeliveryResult other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => ((int)Status * 397) ^ Queue;

    /// <summary>Compares two results.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(NetDeliveryResult left, NetDeliveryResult right) => left.Equals(right);

    /// <summary>Compares two results.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(NetDeliveryResult left, NetDeliveryResult right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() => $"{Status} (queue {Queue})";
}
