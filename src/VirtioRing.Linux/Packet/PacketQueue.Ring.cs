using System.Threading;
using VirtioRing.Linux.Interop;

namespace VirtioRing.Linux.Packet;

/// <content>
/// Walking the <c>TPACKET_V3</c> receive ring: blocks in turn, each owned by user space from the moment the kernel
/// stores <c>TP_STATUS_USER</c> in its <c>block_status</c> until this side stores <c>TP_STATUS_KERNEL</c> back; the
/// frames of a block chained by <c>tp_next_offset</c>. A frame stays current until <see cref="Consume"/>, so a frame
/// the host could not take yet (no guest buffers) is offered again on the next round: nothing is lost in the ring.
/// </content>
internal sealed unsafe partial class PacketQueue
{
    private int _blockSize;
    private int _blockCount;
    private int _block;       // the block being read, or next to look at
    private bool _open;       // _block is owned by user space and being read
    private uint _left;       // frames of the open block not yet consumed
    private uint _offset;     // the current frame's offset in the open block

    /// <summary>Gets the size of a ring block.</summary>
    public int BlockSize => _blockSize;

    /// <summary>Gets the offset of the current frame's header in its block (valid after <see cref="Peek"/> returned a frame).</summary>
    public uint FrameOffset => _offset;

    /// <summary>
    /// Gets the current frame's header, opening the next block when the kernel has retired it; <see langword="null"/>
    /// when no retired block is waiting.
    /// </summary>
    public tpacket3_hdr* Peek()
    {
        // Bounded: each turn either returns or gives a block back (empty or malformed ones).
        for (int turn = 0; turn <= _blockCount; turn++)
        {
            tpacket_block_desc* b = CurrentBlock;
            if (!_open)
            {
                // Acquire: the frames the kernel wrote before retiring the block are visible after this load.
                if ((Volatile.Read(ref b->bh1.block_status) & PacketLibC.TP_STATUS_USER) == 0)
                {
                    return null;
                }

                _open = true;
                _left = b->bh1.num_pkts;
                _offset = b->bh1.offset_to_first_pkt;
                if (_left == 0)
                {
                    ReleaseBlock();
                    continue;
                }

                if (!HeaderFits(_offset))
                {
                    ReceiveMalformed += _left;
                    ReleaseBlock();
                    continue;
                }
            }

            return (tpacket3_hdr*)((byte*)b + _offset);
        }

        return null;
    }

    /// <summary>Moves past the current frame; gives its block back to the kernel after the block's last frame.</summary>
    public void Consume()
    {
        tpacket_block_desc* b = CurrentBlock;
        uint next = ((tpacket3_hdr*)((byte*)b + _offset))->tp_next_offset;
        if (--_left == 0)
        {
            ReleaseBlock();
            return;
        }

        ulong at = (ulong)_offset + next;
        if (next == 0 || !HeaderFits(at))
        {
            ReceiveMalformed += _left;   // the chain is broken: the rest of the block cannot be found
            ReleaseBlock();
            return;
        }

        _offset = (uint)at;
    }

    private tpacket_block_desc* CurrentBlock => (tpacket_block_desc*)(_ring + ((nuint)(uint)_block * (nuint)(uint)_blockSize));

    private bool HeaderFits(ulong offset) =>
        offset >= (ulong)sizeof(tpacket_block_desc) && offset + (ulong)sizeof(tpacket3_hdr) <= (ulong)_blockSize;

    private void ReleaseBlock()
    {
        // Release: every read of the block's frames happens before the kernel may reuse it.
        Volatile.Write(ref CurrentBlock->bh1.block_status, PacketLibC.TP_STATUS_KERNEL);
        _open = false;
        _block = _block + 1 == _blockCount ? 0 : _block + 1;
    }
}
