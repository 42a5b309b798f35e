using System.Runtime.InteropServices;

namespace VirtioRing.Linux.Interop;

/// <summary>
/// <c>struct tpacket3_hdr</c>: the header before each frame in a <c>TPACKET_V3</c> block (48 bytes), followed by a
/// <c>sockaddr_ll</c>; the frame itself starts <c>tp_mac</c> bytes after this header, and with <c>PACKET_VNET_HDR</c>
/// the kernel writes a <c>struct virtio_net_hdr</c> into the 10 bytes just before it.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct tpacket3_hdr
{
    /// <summary>Offset of the next frame's header from this one (0 for the last frame of the block).</summary>
    public uint tp_next_offset;
    public uint tp_sec;
    public uint tp_nsec;

    /// <summary>Bytes of the frame present in the ring.</summary>
    public uint tp_snaplen;

    /// <summary>The frame's length on the wire (more than <see cref="tp_snaplen"/>: truncated).</summary>
    public uint tp_len;

    /// <summary><c>TP_STATUS_*</c> bits of this frame (checksum state, VLAN tag valid).</summary>
    public uint tp_status;

    /// <summary>Offset of the link-layer header from the start of this header.</summary>
    public ushort tp_mac;

    /// <summary>Offset of the network header from the start of this header.</summary>
    public ushort tp_net;

    // struct tpacket_hdr_variant1 hv1
    public uint tp_rxhash;
    public uint tp_vlan_tci;
    public ushort tp_vlan_tpid;
    public ushort hv1_padding;

    public fixed byte tp_padding[8];
}
