using System.Runtime.InteropServices;

namespace VirtioRing.Linux.Interop;

/// <summary><c>struct tpacket_req3</c>: the <c>PACKET_RX_RING</c> request for a <c>TPACKET_V3</c> ring (28 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_req3
{
    /// <summary>Bytes per block (a multiple of the page size).</summary>
    public uint tp_block_size;

    /// <summary>Number of blocks.</summary>
    public uint tp_block_nr;

    /// <summary>Nominal frame size (V3 packs frames of any size; it only has to divide the block size).</summary>
    public uint tp_frame_size;

    /// <summary>Number of nominal frames: <c>tp_block_nr * (tp_block_size / tp_frame_size)</c>.</summary>
    public uint tp_frame_nr;

    /// <summary>Milliseconds after which a block that is not full is retired to user space anyway.</summary>
    public uint tp_retire_blk_tov;

    /// <summary>Bytes of private area per block (0).</summary>
    public uint tp_sizeof_priv;

    /// <summary>Feature request bits (0; <c>TP_FT_REQ_FILL_RXHASH</c> is the only one).</summary>
    public uint tp_feature_req_word;
}
