using System.Runtime.InteropServices;

namespace VirtioRing.Linux.Interop;

/// <summary>
/// What <c>AF_PACKET</c> sockets need beyond Tmds.LibC (which has <c>sockaddr_ll</c>, <c>packet_mreq</c>,
/// <c>msghdr</c>, <c>iovec</c> and the <c>PACKET_*</c> socket options): the <c>TPACKET_V3</c> ring constants,
/// the fanout modes, <c>ETH_P_ALL</c>, the classic BPF return instruction and <c>if_nametoindex</c>.
/// C names, values from <c>&lt;linux/if_packet.h&gt;</c>, <c>&lt;linux/if_ether.h&gt;</c>, <c>&lt;linux/filter.h&gt;</c>
/// (checked against the headers by <c>PacketLayoutTests</c>).
/// </summary>
internal static partial class PacketLibC
{
    /// <summary><c>ETH_P_ALL</c>: every protocol (host byte order; pass it through <c>htons</c>).</summary>
    public const ushort ETH_P_ALL = 0x0003;

    /// <summary><c>TPACKET_V3</c> (<c>enum tpacket_versions</c>): variable-size frames in blocks retired by fill or timeout.</summary>
    public const int TPACKET_V3 = 2;

    /// <summary><c>TPACKET_ALIGNMENT</c>: frames and the data in them are aligned to 16 bytes.</summary>
    public const int TPACKET_ALIGNMENT = 16;

    /// <summary><c>TP_STATUS_KERNEL</c>: the block belongs to the kernel (it may be filling it).</summary>
    public const uint TP_STATUS_KERNEL = 0;

    /// <summary><c>TP_STATUS_USER</c>: the block was retired to user space.</summary>
    public const uint TP_STATUS_USER = 1 << 0;

    /// <summary><c>TP_STATUS_CSUMNOTREADY</c>: the frame's checksum is still to be done (<c>CHECKSUM_PARTIAL</c>).</summary>
    public const uint TP_STATUS_CSUMNOTREADY = 1 << 3;

    /// <summary><c>TP_STATUS_VLAN_VALID</c>: <c>tp_vlan_tci</c> holds a tag the device took off the frame.</summary>
    public const uint TP_STATUS_VLAN_VALID = 1 << 4;

    /// <summary><c>TP_STATUS_VLAN_TPID_VALID</c>: <c>tp_vlan_tpid</c> holds the tag's protocol id.</summary>
    public const uint TP_STATUS_VLAN_TPID_VALID = 1 << 6;

    /// <summary><c>PACKET_FANOUT_HASH</c>: a socket of the group per flow (symmetric flow hash).</summary>
    public const int PACKET_FANOUT_HASH = 0;

    /// <summary><c>PACKET_FANOUT_FLAG_UNIQUEID</c>: the kernel picks an unused group id (pass id 0; read it back with <c>getsockopt</c>).</summary>
    public const int PACKET_FANOUT_FLAG_UNIQUEID = 0x2000;

    /// <summary><c>PACKET_FANOUT_FLAG_DEFRAG</c>: reassemble IP fragments before the hash (not used: it changes the frames delivered).</summary>
    public const int PACKET_FANOUT_FLAG_DEFRAG = 0x8000;

    /// <summary><c>BPF_RET | BPF_K</c>: a classic BPF instruction that returns its constant (0 = drop the packet).</summary>
    public const ushort BPF_RET_K = 0x06;

    /// <summary>The size of <c>struct virtio_net_hdr</c>, which <c>PACKET_VNET_HDR</c> puts before every frame.</summary>
    public const int VirtioNetHdrSize = 10;

    /// <summary><c>if_nametoindex(3)</c>: the index of a network interface in the calling thread's network namespace.</summary>
    /// <param name="ifname">The interface name.</param>
    /// <returns>The index, or 0 with <c>errno</c> set (<c>ENODEV</c>) when there is no such interface.</returns>
    [LibraryImport("libc.so.6", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string ifname);
}
