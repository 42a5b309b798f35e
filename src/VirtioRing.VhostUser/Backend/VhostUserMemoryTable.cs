using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using VirtioRing.Linux;
using VirtioRing.Memory;
using VirtioRing.VhostUser.Protocol;

namespace VirtioRing.VhostUser.Backend;

/// <summary>
/// One immutable vhost-user memory table: the regions the front-end sent, each mapped from its fd,
/// as a <see cref="GuestMemory"/> in guest-physical addresses, plus the front-end's user addresses
/// to translate ring addresses. Mappings are reference-counted, so a table built by
/// <c>ADD_MEM_REG</c>/<c>REM_MEM_REG</c> shares the unchanged ones with the table it replaces; a
/// mapping is unmapped when the last table holding it is released.
/// </summary>
[DebuggerDisplay("{Count} region(s)")]
internal sealed class VhostUserMemoryTable : IDisposable
{
    private readonly Entry[] _entries;
    private int _released;

    private VhostUserMemoryTable(Entry[] entries)
    {
        _entries = entries;
        var regions = new GuestRegion[entries.Length];
        for (int i = 0; i < entries.Length; i++)
        {
            regions[i] = entries[i].Mapping.Region.Region;
        }

        Memory = new GuestMemory(regions, ownsRegions: false);
    }

    /// <summary>Gets the guest memory (guest-physical addresses).</summary>
    public GuestMemory Memory { get; }

    /// <summary>Gets the number of regions.</summary>
    public int Count => _entries.Length;

    /// <summary>Gets a value indicating whether every region's file is sealed against shrinking (no truncation can make an access a SIGBUS).</summary>
    public bool AllSealed
    {
        get
        {
            foreach (Entry e in _entries)
            {
                if (!e.Mapping.Region.IsSealedAgainstShrinking)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>Gets the region descriptions, in table order.</summary>
    public IEnumerable<VhostUserMemoryRegion> Regions
    {
        get
        {
            foreach (Entry e in _entries)
            {
                yield return e.Description;
            }
        }
    }

    /// <summary>
    /// Maps a new table from a <c>SET_MEM_TABLE</c>: one fd per region, in order (the fds are the caller's; each
    /// mapping holds a duplicate). Each file is sealed against shrinking where it allows it (see <see cref="AllSealed"/>).
    /// </summary>
    /// <exception cref="VhostUserProtocolException">A region is empty, wraps, overlaps another, or lies past its file; an fd cannot be mapped; or, with <paramref name="requireSealed"/>, a file cannot be sealed.</exception>
    public static VhostUserMemoryTable Create(VhostUserRequest request, ReadOnlySpan<VhostUserMemoryRegion> regions, ReadOnlySpan<SafeFileDescriptor> fds, bool requireSealed)
    {
        Debug.Assert(regions.Length == fds.Length, "one fd per region");
        var entries = new List<Entry>(regions.Length);
        try
        {
            for (int i = 0; i < regions.Length; i++)
            {
                CheckOverlap(request, entries, regions[i]);
                entries.Add(new Entry(regions[i], MappedRegion.Map(request, regions[i], fds[i], requireSealed), 1));
            }

        }
        catch
        {
            foreach (Entry e in entries)
            {
                e.Mapping.Release();
            }

            throw;
        }

        return Build(request, entries);
    }

    /// <summary>
    /// Returns a new table with one more region (<c>ADD_MEM_REG</c>), sharing the other mappings. A region identical to
    /// one already present (same guest address, user address, size and file offset) is not mapped again: it is counted
    /// in <paramref name="table"/> itself, which is returned, and stays until as many <c>REM_MEM_REG</c> have removed it.
    /// QEMU runs one vhost device per queue pair on one socket, each with its own view of the slots, and each adds (and
    /// later removes) every region itself.
    /// </summary>
    /// <exception cref="VhostUserProtocolException">The region is bad or overlaps a different one, the table is full, or (with <paramref name="requireSealed"/>) its file cannot be sealed.</exception>
    public static VhostUserMemoryTable WithRegion(VhostUserMemoryTable? table, VhostUserMemoryRegion region, SafeFileDescriptor fd, int maxRegions, bool requireSealed)
    {
        if (table is not null)
        {
            for (int i = 0; i < table._entries.Length; i++)
            {
                if (table._entries[i].Description == region)
                {
                    // Counted in place: the same table goes on (no device stop, no retired table per queue pair).
                    table._entries[i] = table._entries[i] with { Adds = checked(table._entries[i].Adds + 1) };
                    return table;
                }
            }
        }

        var entries = new List<Entry>(table?._entries ?? []);

        if (entries.Count >= maxRegions)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.TooManyRegions, VhostUserRequest.AddMemReg, $"the table already has {entries.Count} of {maxRegions} regions");
        }

        CheckOverlap(VhostUserRequest.AddMemReg, entries, region);
        MappedRegion mapping = MappedRegion.Map(VhostUserRequest.AddMemReg, region, fd, requireSealed);
        foreach (Entry e in entries)
        {
            e.Mapping.AddRef();
        }

        entries.Add(new Entry(region, mapping, 1));
        return Build(VhostUserRequest.AddMemReg, entries);
    }

    /// <summary>
    /// Returns a new table without the region matching guest address, user address and size (<c>REM_MEM_REG</c>), or
    /// null when it was the last. A region added more than once (see <see cref="WithRegion"/>) only loses one count.
    /// </summary>
    /// <exception cref="VhostUserProtocolException">No region matches.</exception>
    public static VhostUserMemoryTable? WithoutRegion(VhostUserMemoryTable? table, VhostUserMemoryRegion region)
    {
        var entries = new List<Entry>();
        bool found = false;
        Entry[] current = table?._entries ?? [];
        for (int i = 0; i < current.Length; i++)
        {
            Entry e = current[i];
            if (!found && e.Description.GuestAddress == region.GuestAddress && e.Description.UserAddress == region.UserAddress && e.Description.Size == region.Size)
            {
                found = true;
                if (e.Adds > 1)
                {
                    current[i] = e with { Adds = e.Adds - 1 };   // still added by another queue pair: the same table goes on
                    return table;
                }

                continue;
            }

            entries.Add(e);
        }

        if (!found)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadMemoryRegion, VhostUserRequest.RemMemReg, $"no region at guest 0x{region.GuestAddress:x}, user 0x{region.UserAddress:x}, size 0x{region.Size:x}");
        }

        if (entries.Count == 0)
        {
            return null;
        }

        return Share(VhostUserRequest.RemMemReg, entries);
    }

    /// <summary>Makes a table of entries that other tables hold too: takes one more reference on each mapping.</summary>
    private static VhostUserMemoryTable Share(VhostUserRequest request, List<Entry> entries)
    {
        foreach (Entry e in entries)
        {
            e.Mapping.AddRef();
        }

        return Build(request, entries);
    }

    /// <summary>Makes a table of entries whose references the caller holds; on failure the references are released.</summary>
    private static VhostUserMemoryTable Build(VhostUserRequest request, List<Entry> entries)
    {
        try
        {
            return new VhostUserMemoryTable(entries.ToArray());
        }
        catch (ArgumentException e)
        {
            foreach (Entry entry in entries)
            {
                entry.Mapping.Release();
            }

            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadMemoryRegion, request, e.Message);
            return null;
        }
    }

    /// <summary>Translates a front-end user address range to a guest-physical address; the range must lie in one region.</summary>
    public bool TryTranslateUser(ulong userAddress, ulong length, out ulong guestAddress)
    {
        foreach (Entry e in _entries)
        {
            VhostUserMemoryRegion d = e.Description;
            ulong offset = userAddress - d.UserAddress;   // wraps to a huge value when below the region
            if (userAddress >= d.UserAddress && offset < d.Size && length <= d.Size - offset)
            {
                guestAddress = d.GuestAddress + offset;
                return true;
            }
        }

        guestAddress = 0;
        return false;
    }

    /// <summary>Releases this table's hold on its mappings (each is unmapped when no table holds it). Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        Memory.Dispose();
        foreach (Entry e in _entries)
        {
            e.Mapping.Release();
        }
    }

    private static void CheckOverlap(VhostUserRequest request, List<Entry> entries, VhostUserMemoryRegion r)
    {
        if (r.Size == 0 || r.GuestAddress + r.Size - 1 < r.GuestAddress || r.UserAddress + r.Size - 1 < r.UserAddress || r.MmapOffset + r.Size - 1 < r.MmapOffset)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadMemoryRegion, request, $"region at guest 0x{r.GuestAddress:x} of size 0x{r.Size:x} is empty or wraps");
        }

        foreach (Entry e in entries)
        {
            VhostUserMemoryRegion o = e.Description;
            bool guestOverlap = r.GuestAddress <= o.GuestAddress + o.Size - 1 && o.GuestAddress <= r.GuestAddress + r.Size - 1;
            bool userOverlap = r.UserAddress <= o.UserAddress + o.Size - 1 && o.UserAddress <= r.UserAddress + r.Size - 1;
            if (guestOverlap || userOverlap)
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadMemoryRegion, request, $"region at guest 0x{r.GuestAddress:x} (user 0x{r.UserAddress:x}) overlaps the one at guest 0x{o.GuestAddress:x} (user 0x{o.UserAddress:x})");
            }
        }
    }

    /// <summary>A region of the table: its description, its mapping, and how many <c>ADD_MEM_REG</c> added it (1 from <c>SET_MEM_TABLE</c>).</summary>
    private readonly record struct Entry(VhostUserMemoryRegion Description, MappedRegion Mapping, int Adds);

    /// <summary>One mmap of a region's fd, shared by the tables that hold it.</summary>
    private sealed class MappedRegion
    {
        private int _references = 1;

        private MappedRegion(MemfdGuestRegion region) => Region = region;

        public MemfdGuestRegion Region { get; }

        public static MappedRegion Map(VhostUserRequest request, VhostUserMemoryRegion r, SafeFileDescriptor fd, bool requireSealed)
        {
            MemfdGuestRegion region = SharedMemoryMapping.Map(
                fd, r.MmapOffset, r.Size, new GuestAddress(r.GuestAddress), requireSealed, request, VhostUserProtocolError.BadMemoryRegion, $"region at guest 0x{r.GuestAddress:x}");
            return new MappedRegion(region);
        }

        public void AddRef() => Interlocked.Increment(ref _references);

        public void Release()
        {
            if (Interlocked.Decrement(ref _references) == 0)
            {
                DeferredRelease.Schedule(Region);
            }
        }
    }
}
