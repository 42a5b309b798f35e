using System;
using System.Diagnostics;
using System.Threading;
using VirtioRing.Linux;
using VirtioRing.Memory;
using VirtioRing.VhostUser.Protocol;

namespace VirtioRing.VhostUser.Backend;

/// <summary>
/// The dirty log of a live migration (<c>SET_LOG_BASE</c> with <c>LOG_SHMFD</c>): a bitmap in memory
/// shared with the front-end, one bit per 4 KiB page of guest-physical address space, bit
/// <c>page % 8</c> of byte <c>page / 8</c> (vhost-user "Migration"). Bits are set with an atomic OR,
/// as the front-end reads and clears them concurrently; a page past the end of the bitmap is ignored,
/// so no guest address makes the back-end write outside the mapping.
/// </summary>
[DebuggerDisplay("dirty log, {Size} bytes")]
internal sealed unsafe class VhostUserDirtyLog : IDisposable
{
    /// <summary><c>VHOST_LOG_PAGE</c>: the bytes of guest memory one bit stands for (a power of two).</summary>
    public const int PageShift = 12;

    /// <summary>The largest log accepted: 1 GiB of bitmap covers 32 TiB (2^45 bytes) of guest-physical addresses.</summary>
    public const ulong MaxSize = 1UL << 30;

    private readonly MemfdGuestRegion _mapping;
    private readonly byte* _bitmap;

    private VhostUserDirtyLog(MemfdGuestRegion mapping)
    {
        _mapping = mapping;
        _bitmap = (byte*)mapping.Region.HostAddress;
        Size = mapping.Size;
    }

    /// <summary>Gets the bitmap size in bytes (it covers guest addresses below <c>Size</c> × 8 × 4 KiB).</summary>
    public ulong Size { get; }

    /// <summary>Gets a value indicating whether the log's file is sealed against shrinking (a truncation cannot make a marking a SIGBUS).</summary>
    public bool IsSealed => _mapping.IsSealedAgainstShrinking;

    /// <summary>
    /// Maps the log a <c>SET_LOG_BASE</c> describes (the fd is the caller's; the mapping holds a duplicate), sealing its
    /// file against shrinking first where the file allows it, as the memory regions are.
    /// </summary>
    /// <exception cref="VhostUserProtocolException">The size is 0 or above <see cref="MaxSize"/>, the range wraps or lies past the end of the file, the fd cannot be mapped read-write, or (with <paramref name="requireSealed"/>) the file cannot be sealed.</exception>
    public static VhostUserDirtyLog Map(VhostUserLog log, SafeFileDescriptor fd, bool requireSealed)
    {
        if (log.Size > MaxSize)
        {
            // A sparse file of any size passes the file-size check and costs its sender nothing, but its mapping
            // would take this process's address space (every other device's memory tables, thread stacks).
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadLog, VhostUserRequest.SetLogBase, $"log of 0x{log.Size:x} bytes is larger than the 0x{MaxSize:x} that cover 2^45 bytes of guest memory");
        }

        MemfdGuestRegion mapping = SharedMemoryMapping.Map(
            fd, log.Offset, log.Size, new GuestAddress(0), requireSealed, VhostUserRequest.SetLogBase, VhostUserProtocolError.BadLog, $"log of 0x{log.Size:x} bytes at offset 0x{log.Offset:x}");
        return new VhostUserDirtyLog(mapping);
    }

    /// <summary>Marks every page that [<paramref name="address"/>, <paramref name="address"/> + <paramref name="length"/>) touches; pages past the bitmap are ignored.</summary>
    /// <param name="address">A guest-physical address (from the guest: anything).</param>
    /// <param name="length">The number of bytes (0 marks nothing).</param>
    public void Mark(ulong address, ulong length)
    {
        if (length == 0)
        {
            return;
        }

        // The device's stores into guest memory (plain stores, maybe still in the store buffer) must be visible
        // before this reads a bit as set and skips it: a full fence, paid only while logging (Linux vhost: smp_wmb
        // then set_bit; DPDK: a release fence then fetch-or).
        Interlocked.MemoryBarrier();
        ulong first = address >> PageShift;
        ulong last = (length - 1 > ulong.MaxValue - address ? ulong.MaxValue : address + (length - 1)) >> PageShift;   // a range past 2^64 is clamped, not wrapped
        for (ulong page = first; page <= last; page++)
        {
            ulong index = page >> 3;
            if (index >= Size)
            {
                return;   // pages only grow from here: the rest lies past the bitmap too
            }

            SetBit(_bitmap + index, (byte)(1 << (int)(page & 7)));
        }
    }

    /// <summary>Gets whether a page's bit is set (tests).</summary>
    public bool IsDirty(ulong page) => (page >> 3) < Size && (Volatile.Read(ref _bitmap[page >> 3]) & (1 << (int)(page & 7))) != 0;

    /// <summary>Unmaps the log (the caller makes sure no queue marks it any more, e.g. after <see cref="DeferredRelease"/>'s grace period).</summary>
    public void Dispose() => _mapping.Dispose();

    private static void SetBit(byte* b, byte bit)
    {
        // Most writes hit pages already marked since the front-end's last sync: a plain read skips the atomic then.
        // Mark fenced first: that read cannot be taken before the device's own stores are visible, or the
        // front-end could clear the bit and copy the page in between, and the page would go out stale, unmarked.
        byte seen = Volatile.Read(ref *b);
        while ((seen & bit) == 0)
        {
            byte was = Interlocked.CompareExchange(ref *b, (byte)(seen | bit), seen);
            if (was == seen)
            {
                return;
            }

            seen = was;
        }
    }
}
