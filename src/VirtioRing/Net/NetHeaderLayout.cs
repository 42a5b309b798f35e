using System;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VirtioRing.Net;

/// <summary>
/// How a <c>virtio_net_hdr</c> is laid out on the wire for a negotiated feature set: its size
/// (10, 12 or 20 bytes, virtio 1.3 §5.1.6 and §5.1.6.1 "Legacy Interface: Device Operation") and
/// its byte order (little-endian, except a legacy interface on a big-endian guest).
/// </summary>
[DebuggerDisplay("{Size} bytes{(BigEndian ? \" big-endian\" : \"\"),nq}")]
[StructLayout(LayoutKind.Auto)]
public readonly struct NetHeaderLayout : IEquatable<NetHeaderLayout>
{
    /// <summary>The legacy header without <c>num_buffers</c>: 10 bytes.</summary>
    public const int LegacySize = 10;

    /// <summary>The header with <c>num_buffers</c> (legacy with <c>MRG_RXBUF</c>, or any <c>VERSION_1</c> header): 12 bytes.</summary>
    public const int BasicSize = 12;

    /// <summary>The header with <c>hash_value</c>, <c>hash_report</c> and padding (<c>HASH_REPORT</c>): 20 bytes.</summary>
    public const int HashReportSize = 20;

    private NetHeaderLayout(int size, bool bigEndian)
    {
        Size = size;
        BigEndian = bigEndian;
    }

    /// <summary>Gets the 10-byte legacy layout, little-endian.</summary>
    public static NetHeaderLayout Legacy => new(LegacySize, false);

    /// <summary>Gets the 12-byte layout, little-endian (<c>VERSION_1</c> without hash report).</summary>
    public static NetHeaderLayout Modern => new(BasicSize, false);

    /// <summary>Gets the 20-byte layout (<c>VERSION_1</c> with <c>HASH_REPORT</c>).</summary>
    public static NetHeaderLayout ModernHashReport => new(HashReportSize, false);

    /// <summary>Gets the header size in bytes: 10, 12 or 20.</summary>
    public int Size { get; }

    /// <summary>Gets whether the 16- and 32-bit fields are big-endian (only a legacy interface on a big-endian guest).</summary>
    public bool BigEndian { get; }

    /// <summary>Gets the layout for a negotiated set.</summary>
    /// <param name="negotiated">The negotiated features.</param>
    /// <param name="legacyGuestBigEndian">
    /// For a legacy driver (no <c>VERSION_1</c>): whether the guest is big-endian, since legacy headers
    /// are guest-endian (§5.1.6.1). Ignored when <c>VERSION_1</c> was negotiated (always little-endian).
    /// </param>
    /// <returns>The layout.</returns>
    public static NetHeaderLayout For(NetFeatures negotiated, bool legacyGuestBigEndian = false) =>
        new(VirtioNetHeader.SizeFor(negotiated), legacyGuestBigEndian && (negotiated & NetFeatures.Version1) == 0);

    /// <summary>Gets a legacy layout.</summary>
    /// <param name="mergeableRxBuffers">Whether <c>MRG_RXBUF</c> was negotiated (12 bytes, else 10).</param>
    /// <param name="guestBigEndian">Whether the guest is big-endian.</param>
    /// <returns>The layout.</returns>
    public static NetHeaderLayout LegacyFor(bool mergeableRxBuffers, bool guestBigEndian) =>
        new(mergeableRxBuffers ? BasicSize : LegacySize, guestBigEndian);

    /// <inheritdoc/>
    public bool Equals(NetHeaderLayout other) => Size == other.Size && BigEndian == other.BigEndian;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NetHeaderLayout other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Size * 2 + (BigEndian ? 1 : 0);

    /// <summary>Compares two layouts.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(NetHeaderLayout left, NetHeaderLayout right) => left.Equals(right);

    /// <summary>Compares two layouts.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(NetHeaderLayout left, NetHeaderLayout right) => !left.Equals(right);
}
