using System.Runtime.InteropServices;

namespace VirtioRing.Linux.Interop;

/// <summary><c>struct tpacket_block_desc</c>: the start of every block of a <c>TPACKET_V3</c> receive ring.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_block_desc
{
    public uint version;
    public uint offset_to_priv;
    public tpacket_hdr_v1 bh1;   // union tpacket_bd_header_u has this one member
}
