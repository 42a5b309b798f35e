using System.Runtime.InteropServices;

namespace VirtioRing.Linux.Interop;

/// <summary>
/// <c>struct tpacket_hdr_v1</c>: the header of a <c>TPACKET_V3</c> block (inside <c>tpacket_block_desc</c>).
/// <c>block_status</c> is the ownership word: the kernel stores <c>TP_STATUS_USER</c> when it retires the block
/// (after writing the frames), user space stores <c>TP_STATUS_KERNEL</c> to give it back.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_hdr_v1
{
    public uint block_status;
    public uint num_pkts;
    public uint offset_to_first_pkt;
    public uint blk_len;
    public ulong seq_num;
    public uint ts_first_pkt_sec;
    public uint ts_first_pkt_nsec;
    public uint ts_last_pkt_sec;
    public uint ts_last_pkt_nsec;
}
