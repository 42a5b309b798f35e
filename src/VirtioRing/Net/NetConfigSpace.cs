using System;
using System.Buffers.Binary;
using System.Diagnostics;

namespace VirtioRing.Net;

/// <summary>
/// The virtio-net device configuration space, <c>struct virtio_net_config</c> (virtio 1.3 §5.1.4):
/// its fields, a codec for the whole structure, and byte-granular access at an offset as transports
/// do it (vhost-user <c>GET_CONFIG</c>/<c>SET_CONFIG</c> carry an offset and a size; PCI and MMIO read
/// 1, 2 or 4 bytes at a time). Little-endian (the 1.x interface). Not thread-safe.
/// </summary>
/// <remarks>
/// Layout (offset: field): 0: <c>mac[6]</c>; 6: <c>status</c> le16; 8: <c>max_virtqueue_pairs</c> le16;
/// 10: <c>mtu</c> le16; 12: <c>speed</c> le32; 16: <c>duplex</c> u8; 17: <c>rss_max_key_size</c> u8;
/// 18: <c>rss_max_indirection_table_length</c> le16; 20: <c>supported_hash_types</c> le32;
/// 24: <c>supported_tunnel_types</c> le32; 28 bytes in all.
/// </remarks>
[DebuggerDisplay("status={Status} pairs={MaxVirtqueuePairs} mtu={Mtu} speed={Speed} duplex={Duplex}")]
public sealed class NetConfigSpace
{
    /// <summary>Offset of <c>mac</c>.</summary>
    public const int MacOffset = 0;

    /// <summary>Offset of <c>status</c>.</summary>
    public const int StatusOffset = 6;

    /// <summary>Offset of <c>max_virtqueue_pairs</c>.</summary>
    public const int MaxVirtqueuePairsOffset = 8;

    /// <summary>Offset of <c>mtu</c>.</summary>
    public const int MtuOffset = 10;

    /// <summary>Offset of <c>speed</c>.</summary>
    public const int SpeedOffset = 12;

    /// <summary>Offset of <c>duplex</c>.</summary>
    public const int DuplexOffset = 16;

    /// <summary>Offset of <c>rss_max_key_size</c>.</summary>
    public const int RssMaxKeySizeOffset = 17;

    /// <summary>Offset of <c>rss_max_indirection_table_length</c>.</summary>
    public const int RssMaxIndirectionTableLengthOffset = 18;

    /// <summary>Offset of <c>supported_hash_types</c>.</summary>
    public const int SupportedHashTypesOffset = 20;

    /// <summary>Offset of <c>supported_tunnel_types</c>.</summary>
    public const int SupportedTunnelTypesOffset = 24;

    /// <summary>The size of the whole structure in bytes.</summary>
    public const int Size = 28;

    /// <summary>The length of a MAC address.</summary>
    public const int MacLength = 6;

    /// <summary>The <c>speed</c> value for an unknown speed.</summary>
    public const uint UnknownSpeed = 0xFFFF_FFFF;

    private readonly byte[] _mac = new byte[MacLength];

    /// <summary>Gets the MAC address (valid when <c>VIRTIO_NET_F_MAC</c> is offered).</summary>
    public ReadOnlySpan<byte> Mac => _mac;

    /// <summary>Gets or sets <c>status</c> (with <c>VIRTIO_NET_F_STATUS</c>).</summary>
    public NetLinkStatus Status { get; set; }

    /// <summary>Gets or sets <c>max_virtqueue_pairs</c> (with <c>MQ</c> or <c>RSS</c>; 1..0x8000 when offered).</summary>
    public ushort MaxVirtqueuePairs { get; set; }

    /// <summary>Gets or sets <c>mtu</c> (with <c>VIRTIO_NET_F_MTU</c>; 68..65535 when offered).</summary>
    public ushort Mtu { get; set; }

    /// <summary>Gets or sets <c>speed</c> in Mbit/s, or <see cref="UnknownSpeed"/> (with <c>SPEED_DUPLEX</c>).</summary>
    public uint Speed { get; set; } = UnknownSpeed;

    /// <summary>Gets or sets <c>duplex</c> (with <c>SPEED_DUPLEX</c>).</summary>
    public NetDuplex Duplex { get; set; } = NetDuplex.Unknown;

    /// <summary>Gets or sets <c>rss_max_key_size</c> (with <c>RSS</c> or <c>HASH_REPORT</c>; at least 40).</summary>
    public byte RssMaxKeySize { get; set; }

    /// <summary>Gets or sets <c>rss_max_indirection_table_length</c> (with <c>RSS</c>; at least 128).</summary>
    public ushort RssMaxIndirectionTableLength { get; set; }

    /// <summary>Gets or sets <c>supported_hash_types</c> (a <c>VIRTIO_NET_HASH_TYPE_*</c> mask; with <c>RSS</c> or <c>HASH_REPORT</c>).</summary>
    public uint SupportedHashTypes { get; set; }

    /// <summary>Gets or sets <c>supported_tunnel_types</c> (with <c>HASH_TUNNEL</c>).</summary>
    public uint SupportedTunnelTypes { get; set; }

    /// <summary>
    /// Gets how much of the structure exists for an offered feature set: up to the end of the last
    /// field a feature makes exist (§5.1.4, as QEMU sizes it), at least the <c>mac</c>.
    /// </summary>
    /// <param name="offered">The device's offered features.</param>
    /// <returns>The config space size in bytes, 6..28.</returns>
    public static int SizeFor(NetFeatures offered)
    {
        if ((offered & NetFeatures.HashTunnel) != 0)
        {
            return Size;
        }

        if ((offered & (NetFeatures.Rss | NetFeatures.HashReport)) != 0)
        {
            return SupportedTunnelTypesOffset;
        }

        if ((offered & NetFeatures.SpeedDuplex) != 0)
        {
            return RssMaxKeySizeOffset;
        }

        if ((offered & NetFeatures.Mtu) != 0)
        {
            return SpeedOffset;
        }

        if ((offered & NetFeatures.Mq) != 0)
        {
            return MtuOffset;
        }

        return (offered & NetFeatures.Status) != 0 ? MaxVirtqueuePairsOffset : StatusOffset;
    }

    /// <summary>Sets the MAC address.</summary>
    /// <param name="mac">Six bytes.</param>
    /// <exception cref="ArgumentException"><paramref name="mac"/> is not six bytes long.</exception>
    public void SetMac(ReadOnlySpan<byte> mac)
    {
        if (mac.Length != MacLength)
        {
            ThrowHelper.ThrowArgument(nameof(mac), "A MAC address is six bytes.");
        }

        mac.CopyTo(_mac);
    }

    /// <summary>Writes the whole structure (<see cref="Size"/> bytes).</summary>
    /// <param name="destination">At least <see cref="Size"/> bytes.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            ThrowHelper.ThrowArgument(nameof(destination), "The destination is shorter than the config space.");
        }

        _mac.AsSpan().CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(StatusOffset), (ushort)Status);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(MaxVirtqueuePairsOffset), MaxVirtqueuePairs);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(MtuOffset), Mtu);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(SpeedOffset), Speed);
        destination[DuplexOffset] = (byte)Duplex;
        destination[RssMaxKeySizeOffset] = RssMaxKeySize;
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(RssMaxIndirectionTableLengthOffset), RssMaxIndirectionTableLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(SupportedHashTypesOffset), SupportedHashTypes);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(SupportedTunnelTypesOffset), SupportedTunnelTypes);
    }

    /// <summary>Sets every field from the whole structure (<see cref="Size"/> bytes).</summary>
    /// <param name="source">At least <see cref="Size"/> bytes.</param>
    /// <exception cref="ArgumentException"><paramref name="source"/> is too short.</exception>
    public void Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            ThrowHelper.ThrowArgument(nameof(source), "The source is shorter than the config space.");
        }

        source.Slice(0, MacLength).CopyTo(_mac);
        Status = (NetLinkStatus)BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(StatusOffset));
        MaxVirtqueuePairs = BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(MaxVirtqueuePairsOffset));
        Mtu = BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(MtuOffset));
        Speed = BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(SpeedOffset));
        Duplex = (NetDuplex)source[DuplexOffset];
        RssMaxKeySize = source[RssMaxKeySizeOffset];
        RssMaxIndirectionTableLength = BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(RssMaxIndirectionTableLengthOffset));
        SupportedHashTypes = BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(SupportedHashTypesOffset));
        SupportedTunnelTypes = BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(SupportedTunnelTypesOffset));
    }

    /// <summary>
    /// Reads bytes of the structure at an offset, as a transport config read does. The range must lie
    /// inside the structure (<paramref name="limit"/> lets the caller pass <see cref="SizeFor"/>).
    /// </summary>
    /// <param name="offset">The byte offset into the structure.</param>
    /// <param name="destination">Where to copy; its length is the access size.</param>
    /// <param name="limit">The config space size the device exposes (at most <see cref="Size"/>).</param>
    /// <returns><see langword="false"/> when the range is outside the structure (nothing copied).</returns>
    public bool ReadAt(uint offset, Span<byte> destination, int limit = Size)
    {
        if (!InRange(offset, destination.Length, limit))
        {
            return false;
        }

        Span<byte> all = stackalloc byte[Size];
        Write(all);
        all.Slice((int)offset, destination.Length).CopyTo(destination);
        return true;
    }

    /// <summary>
    /// Writes bytes of the structure at an offset, as a transport config write does (a field is
    /// replaced in part when the access covers it in part). The caller decides which writes a driver
    /// may make: in the 1.x interface every field is read-only for the driver (§5.1.4.2), and only
    /// a legacy driver writes <c>mac</c> (see <see cref="IsLegacyDriverWritable"/>).
    /// </summary>
    /// <param name="offset">The byte offset into the structure.</param>
    /// <param name="source">The bytes; its length is the access size.</param>
    /// <param name="limit">The config space size the device exposes (at most <see cref="Size"/>).</param>
    /// <returns><see langword="false"/> when the range is outside the structure (nothing changed).</returns>
    public bool WriteAt(uint offset, ReadOnlySpan<byte> source, int limit = Size)
    {
        if (!InRange(offset, source.Length, limit))
        {
            return false;
        }

        Span<byte> all = stackalloc byte[Size];
        Write(all);
        source.CopyTo(all.Slice((int)offset));
        Read(all);
        return true;
    }

    /// <summary>Gets whether a range lies within <c>mac</c>, the one field a legacy driver may write (§5.1.4.3).</summary>
    /// <param name="offset">The byte offset.</param>
    /// <param name="length">The access size.</param>
    /// <returns><see langword="true"/> when the whole range is inside <c>mac</c>.</returns>
    public static bool IsLegacyDriverWritable(uint offset, int length) => InRange(offset, length, MacLength);

    private static bool InRange(uint offset, int length, int limit)
    {
        // Subtract, never add: offset + length could wrap.
        if (limit < 0)
        {
            return false;
        }

        if (limit > Size)
        {
            limit = Size;
        }

        return length >= 0 && offset <= (uint)limit && (uint)length <= (uint)limit - offset;
    }
}
