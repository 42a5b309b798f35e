using System;

namespace VirtioRing.Net.Switching;

/// <summary>One per-MAC fast-path binding as seen from a port: frames to <see cref="PeerMac"/> use queue pair <see cref="Pair"/> of this port.</summary>
public readonly struct NetSwitchPeerQueue : IEquatable<NetSwitchPeerQueue>
{
    /// <summary>Initializes a new instance of the <see cref="NetSwitchPeerQueue"/> struct.</summary>
    /// <param name="peer">The peer port.</param>
    /// <param name="peerMac">The peer's MAC address.</param>
    /// <param name="pair">The queue pair on this port dedicated to the peer.</param>
    public NetSwitchPeerQueue(NetSwitchPort peer, MacAddress peerMac, int pair)
    {
        Peer = peer;
        PeerMac = peerMac;
        Pair = pair;
    }

    /// <summary>Gets the peer port.</summary>
    public NetSwitchPort Peer { get; }

    /// <summary>Gets the peer's MAC address.</summary>
    public MacAddress PeerMac { get; }

    /// <summary>Gets the queue pair of this port dedicated to the peer (transmit to it, receive from it).</summary>
    public int Pair { get; }

    /// <inheritdoc/>
    public bool Equals(NetSwitchPeerQueue other) => ReferenceEquals(Peer, other.Peer) && PeerMac == other.PeerMac && Pair == other.Pair;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NetSwitchPeerQueue other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => PeerMac.GetHashCode() ^ (Pair * 397);

    /// <summary>Compares two bindings.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(NetSwitchPeerQueue left, NetSwitchPeerQueue right) => left.Equals(right);

    /// <summary>Compares two bindings.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(NetSwitchPeerQueue left, NetSwitchPeerQueue right) => !left.Equals(right);
}
