using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Memory;

namespace VirtioRing.Linux;

/// <summary>
/// Guest memory that another process can map too: a <c>memfd</c> (or any shared-memory fd received
/// from elsewhere) mapped <c>MAP_SHARED</c> and wrapped as a <see cref="GuestRegion"/>. The descriptor
/// is exposed so it can be passed on (vhost-user <c>SET_MEM_TABLE</c>); the region's owner unmaps the
/// memory and closes the descriptor when the region is disposed.
/// </summary>
/// <remarks>
/// A region made by <see cref="Create"/> is sealed against shrinking and growing (<c>F_SEAL_SHRINK |
/// F_SEAL_GROW</c>), so a process it is shared with cannot truncate it under this one (an access past
/// the end of a truncated shared mapping is a <c>SIGBUS</c>). A region from
/// <see cref="Map(SafeHandle, ulong, ulong, GuestAddress, bool)"/> is sealed the same way when its file allows it
/// (<see cref="IsSealedAgainstShrinking"/>); otherwise it is only as safe as its sender makes it.
/// </remarks>
[DebuggerDisplay("memfd region [{Region.Start}, {Region.End}) fd {Handle}, offset {Offset}")]
public sealed unsafe class MemfdGuestRegion : IDisposable
{
    private MemfdGuestRegion(GuestRegion region, SafeFileDescriptor handle, ulong offset, bool sealedAgainstShrinking)
    {
        Region = region;
        Handle = handle;
        Offset = offset;
        IsSealedAgainstShrinking = sealedAgainstShrinking;
    }

    /// <summary>Gets the guest region (hand it to a <see cref="GuestMemory"/>; disposing it unmaps and closes).</summary>
    public GuestRegion Region { get; }

    /// <summary>Gets the descriptor of the shared memory (owned: created, or a duplicate of the one mapped).</summary>
    public SafeFileDescriptor Handle { get; }

    /// <summary>Gets the offset in the file at which <see cref="GuestRegion.Start"/> lies (vhost-user <c>mmap_offset</c>).</summary>
    public ulong Offset { get; }

    /// <summary>Gets the size of the region in bytes.</summary>
    public ulong Size => Region.Size;

    /// <summary>
    /// Gets a value indicating whether the file carries <c>F_SEAL_SHRINK</c>, checked before its size was: no
    /// process can truncate it under this mapping, so no access to the region can raise <c>SIGBUS</c>. Always true
    /// for <see cref="Create"/>; for <see cref="Map(SafeHandle, ulong, ulong, GuestAddress, bool)"/>, true when the
    /// sender sealed the file or the seal could be added.
    /// </summary>
    public bool IsSealedAgainstShrinking { get; }

    /// <summary>Creates zeroed shared memory (<c>memfd_create</c>, <c>ftruncate</c>, sealed to its size) and maps it.</summary>
    /// <param name="start">The guest-physical address of the first byte.</param>
    /// <param name="size">The size in bytes (not zero).</param>
    /// <param name="name">The memfd's name (shown in <c>/proc/self/fd</c>; at most 249 bytes of UTF-8).</param>
    /// <returns>The mapped region.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is zero or too large, the region wraps 2^64, or the name is too long.</exception>
    /// <exception cref="LinuxException"><c>memfd_create</c>, <c>ftruncate</c>, <c>fcntl</c> or <c>mmap</c> failed (<c>ENOMEM</c>, <c>EMFILE</c>…).</exception>
    public static MemfdGuestRegion Create(GuestAddress start, ulong size, string name = "virtioring-guest")
    {
        ArgumentNullException.ThrowIfNull(name);
        CheckSize(size, nameof(size));
        if (!start.TryAdd(size - 1, out _))
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(size), "The region wraps past the top of the guest address space.");
        }

        int nameBytes = Encoding.UTF8.GetByteCount(name);
        if (nameBytes > 249)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(name), "A memfd name is at most 249 bytes.");
        }

        byte* cname = stackalloc byte[nameBytes + 1];
        Encoding.UTF8.GetBytes(name, new Span<byte>(cname, nameBytes));
        cname[nameBytes] = 0;
        int raw = LibC.memfd_create(cname, LibC.MFD_CLOEXEC | LibC.MFD_ALLOW_SEALING);
        if (raw < 0)
        {
            LinuxThrowHelper.ThrowErrno("memfd_create", $"name \"{name}\"");
        }

        var fd = new SafeFileDescriptor(raw, ownsHandle: true);
        try
        {
            if (LibC.ftruncate(raw, (long)size) < 0)
            {
                LinuxThrowHelper.ThrowErrno("ftruncate", $"size {size}");
            }

            if (LibC.fcntl(raw, LibC.F_ADD_SEALS, LibC.F_SEAL_SHRINK | LibC.F_SEAL_GROW) < 0)
            {
                LinuxThrowHelper.ThrowErrno("fcntl", "F_ADD_SEALS");
            }

            return MapOwned(fd, offset: 0, size, start, sealedAgainstShrinking: true);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Maps <paramref name="size"/> bytes at <paramref name="offset"/> of shared memory received from
    /// elsewhere (a vhost-user memory region: its fd, <c>mmap_offset</c> and <c>memory_size</c>).
    /// The range is checked against the file's size first (no overflow: a hostile offset or size is an
    /// <see cref="ArgumentOutOfRangeException"/>, never a mapping past the end). The offset need not be
    /// page-aligned. The descriptor is duplicated: the caller keeps, and closes, its own. The file is not
    /// sealed (see the overload with <c>sealAgainstShrinking</c>).
    /// </summary>
    /// <param name="fd">A shared-memory descriptor (memfd, tmpfs or hugetlbfs file) open for reading and writing.</param>
    /// <param name="offset">The file offset of the region's first byte.</param>
    /// <param name="size">The size in bytes (not zero).</param>
    /// <param name="start">The guest-physical address of the first byte.</param>
    /// <returns>The mapped region.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="fd"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is zero, <paramref name="offset"/> + <paramref name="size"/> lies past the end of the file (or overflows), or the region wraps 2^64.</exception>
    /// <exception cref="LinuxException"><c>fstat</c>, <c>fcntl</c> or <c>mmap</c> failed (<c>EACCES</c>: not open for writing; <c>ENODEV</c>: not mappable).</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="fd"/> was closed.</exception>
    public static MemfdGuestRegion Map(SafeHandle fd, ulong offset, ulong size, GuestAddress start) =>
        Map(fd, offset, size, start, sealAgainstShrinking: false);

    /// <summary>
    /// Maps shared memory received from elsewhere, as <see cref="Map(SafeHandle, ulong, ulong, GuestAddress)"/>,
    /// optionally sealing the file against shrinking first. A process that truncates a file under a shared
    /// mapping makes every later access past the new end a <c>SIGBUS</c>, which a .NET process cannot survive;
    /// with <c>F_SEAL_SHRINK</c> in place before the size is checked, no truncation can follow. The seal is the
    /// file's, so the sender can no longer shrink it either (growing stays allowed); files that cannot be sealed
    /// (not a memfd, a memfd made without <c>MFD_ALLOW_SEALING</c>, or one sealed with <c>F_SEAL_SEAL</c> but
    /// not <c>F_SEAL_SHRINK</c>) are mapped anyway: <see cref="IsSealedAgainstShrinking"/> tells the caller.
    /// </summary>
    /// <param name="fd">A shared-memory descriptor (memfd, tmpfs or hugetlbfs file) open for reading and writing.</param>
    /// <param name="offset">The file offset of the region's first byte.</param>
    /// <param name="size">The size in bytes (not zero).</param>
    /// <param name="start">The guest-physical address of the first byte.</param>
    /// <param name="sealAgainstShrinking">Add <c>F_SEAL_SHRINK</c> to the file when it does not carry it and allows it.</param>
    /// <returns>The mapped region.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="fd"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is zero, <paramref name="offset"/> + <paramref name="size"/> lies past the end of the file (or overflows), or the region wraps 2^64.</exception>
    /// <exception cref="LinuxException"><c>fstat</c> or <c>mmap</c> failed (<c>EACCES</c>: not open for writing; <c>ENODEV</c>: not mappable).</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="fd"/> was closed.</exception>
    public static MemfdGuestRegion Map(SafeHandle fd, ulong offset, ulong size, GuestAddress start, bool sealAgainstShrinking)
    {
        ArgumentNullException.ThrowIfNull(fd);
        CheckSize(size, nameof(size));
        if (!start.TryAdd(size - 1, out _))
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(size), "The region wraps past the top of the guest address space.");
        }

        ulong fileSize;
        bool sealedAgainstShrinking;
        using (var r = new FdRef(fd))
        {
            // The seal first, the size after: a truncation between the two is then seen by fstat, none can follow.
            sealedAgainstShrinking = HasShrinkSeal(r.Value, sealAgainstShrinking);
            stat st;
            if (LibC.fstat(r.Value, &st) < 0)
            {
                LinuxThrowHelper.ThrowErrno("fstat");
            }

            fileSize = (ulong)Math.Max(0L, (long)st.st_size);
        }

        // Both checks subtract, so neither can wrap (CVE-2020-10722 was an mmap offset + size overflow).
        if (offset > fileSize || size > fileSize - offset)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(size), $"The range [{offset}, {offset} + {size}) lies past the end of the file ({fileSize} bytes).");
        }

        SafeFileDescriptor copy = SafeFileDescriptor.Duplicate(fd);
        try
        {
            return MapOwned(copy, offset, size, start, sealedAgainstShrinking);
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <summary>Unmaps the memory and closes the descriptor (disposes <see cref="Region"/>).</summary>
    public void Dispose() => Region.Dispose();

    private static void CheckSize(ulong size, string paramName)
    {
        // mmap lengths and file offsets are signed 64-bit in the kernel's API; keep far away from the edge.
        if (size == 0 || size > long.MaxValue / 2)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(paramName, "The size must be 1 .. 2^62 bytes.");
        }
    }

    /// <summary>Whether the file carries <c>F_SEAL_SHRINK</c> (after adding it, when asked and allowed). Never throws: files without seals say no.</summary>
    private static bool HasShrinkSeal(int fd, bool add)
    {
        int seals = LibC.fcntl(fd, LibC.F_GET_SEALS);
        if (seals < 0)
        {
            return false;   // EINVAL: not a file that supports seals (tmpfs file, hugetlbfs)
        }

        if ((seals & LibC.F_SEAL_SHRINK) != 0)
        {
            return true;
        }

        return add && (seals & LibC.F_SEAL_SEAL) == 0 && LibC.fcntl(fd, LibC.F_ADD_SEALS, LibC.F_SEAL_SHRINK) == 0;
    }

    /// <summary>Maps [offset, offset + size) of an owned fd (range already checked) and builds the region.</summary>
    private static MemfdGuestRegion MapOwned(SafeFileDescriptor fd, ulong offset, ulong size, GuestAddress start, bool sealedAgainstShrinking)
    {
        ulong page = (ulong)Environment.SystemPageSize;
        ulong alignedOffset = offset & ~(page - 1);
        ulong delta = offset - alignedOffset;          // < page
        ulong length = delta + size;                   // size ≤ 2^62: cannot wrap
        void* p;
        using (var r = new FdRef(fd))
        {
            p = LibC.mmap(null, (size_t)length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, r.Value, (long)alignedOffset);
        }

        if (p == LibC.MAP_FAILED)
        {
            LinuxThrowHelper.ThrowErrno("mmap", $"offset {alignedOffset}, length {length}");
        }

        var mapping = new Mapping((byte*)p, length, fd);
        try
        {
            GuestRegion region = GuestRegion.FromHost(start, (IntPtr)((byte*)p + delta), size, mapping);
            return new MemfdGuestRegion(region, fd, offset, sealedAgainstShrinking);
        }
        catch
        {
            mapping.Dispose();
            throw;
        }
    }

    /// <summary>The region's owner: unmaps and closes once.</summary>
    private sealed class Mapping(byte* address, ulong length, SafeFileDescriptor fd) : IDisposable
    {
        private IntPtr _address = (IntPtr)address;

        public void Dispose()
        {
            IntPtr a = Interlocked.Exchange(ref _address, IntPtr.Zero);
            if (a != IntPtr.Zero)
            {
                int rc = LibC.munmap((void*)a, (size_t)length);
                Debug.Assert(rc == 0, "munmap of our own mapping failed");
            }

            fd.Dispose();
        }
    }
}
