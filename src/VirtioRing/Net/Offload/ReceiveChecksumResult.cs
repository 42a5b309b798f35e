using System;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VirtioRing.Net.Offload;

/// <summary>The result of validating a received frame's checksums (<see cref="ChecksumOffload.ValidateReceived"/>).</summary>
[DebuggerDisplay("{Status} {Error} proto={Protocol} L4@{TransportOffset}")]
[StructLayout(LayoutKind.Auto)]
public readonly struct ReceiveChecksumResult : IEquatable<ReceiveChecksumResult>
{
    internal ReceiveChecksumResult(ReceiveChecksumStatus status, OffloadError error, byte protocol, int transportOffset)
    {
        Status = status;
        Error = error;
        Protocol = protocol;
        TransportOffset = transportOffset;
    }

    /// <summary>Gets what was found.</summary>
    public ReceiveChecksumStatus Status { get; }

    /// <summary>Gets why the frame is <see cref="ReceiveChecksumStatus.Malformed"/>; otherwise <see cref="OffloadError.None"/>.</summary>
    public OffloadError Error { get; }

    /// <summary>Gets the transport protocol number, or 0 when no IP header was parsed.</summary>
    public byte Protocol { get; }

    /// <summary>Gets the offset of the transport header in the frame, or 0 when none was parsed.</summary>
    public int TransportOffset { get; }

    /// <summary>
    /// Gets whether the device may set <c>VIRTIO_NET_HDR_F_DATA_VALID</c> (virtio 1.2 §5.1.6.4: "the device MUST validate
    /// the packet checksum"; one level of checksums).
    /// </summary>
    public bool IsDataValid => Status is ReceiveChecksumStatus.Valid or ReceiveChecksumStatus.UdpChecksumAbsent;

    /// <summary>Compares two results field by field.</summary>
    /// <param name="left">A result.</param>
    /// <param name="right">Another result.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(ReceiveChecksumResult left, ReceiveChecksumResult right) => left.Equals(right);

    /// <summary>Compares two results field by field.</summary>
    /// <param name="left">A result.</param>
    /// <param name="right">Another result.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(ReceiveChecksumResult left, ReceiveChecksumResult right) => !left.Equals(right);

    /// <inheritdoc/>
    public bool Equals(ReceiveChecksumResult other) =>
        Status == other.Status && Error == other.Error && Protocol == other.Protocol && TransportOffset == other.TransportOffset;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ReceiveChecksumResult other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => ((int)Status << 24) ^ ((int)Error << 16) ^ (Protocol << 8) ^ TransportOffset;

    /// <inheritdoc/>
    public override string ToString() => Error == OffloadError.None ? Status.ToString() : $"{Status} ({Error})";
}
