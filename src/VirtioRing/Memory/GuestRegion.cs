using System;
using System.Diagnostics;
using System.Threading;

namespace VirtioRing.Memory;

/// <summary>
/// One contiguous range of guest-physical memory, [<see cref="Start"/>, <see cref="End"/>), backed
/// by host memory at <see cref="HostAddress"/>. The host memory is either allocated (and freed)
/// by the library, or handed in by a VMM together with an optional owner that is disposed with
/// the region (an mmap'd file, for example).
/// </summary>
[DebuggerDisplay("[{Start}, {End}) -> 0x{(ulong)HostAddress,h}")]
public sealed unsafe class GuestRegion : IDisposable
{
    private readonly bool _ownsHost;
    private readonly IDisposable? _owner;
    private IntPtr _host;

    private GuestRegion(GuestAddress start, byte* host, ulong size, bool ownsHost, IDisposable? owner)
    {
        if (size == 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(size), "A region cannot be empty.");
        }

        if (!start.TryAdd(size, out _) && unchecked(start.Value + size) != 0)
        {
            // A region may end exactly at 2^64 (its End then reads as 0); anything further wraps.
            ThrowHelper.ThrowArgumentOutOfRange(nameof(size), "The region wraps past the top of the guest address space.");
        }

        Start = start;
        Size = size;
        _host = (IntPtr)host;
        _ownsHost = ownsHost;
        _owner = owner;
    }

    /// <summary>Gets the first guest-physical address of the region.</summary>
    public GuestAddress Start { get; }

    /// <summary>Gets the size of the region in bytes.</summary>
    public ulong Size { get; }

    /// <summary>Gets the first guest-physical address after the region (0 when the region ends at 2^64).</summary>
    public GuestAddress End => new(unchecked(Start.Value + Size));

    /// <summary>Gets the host address that backs <see cref="Start"/>.</summary>
    /// <exception cref="ObjectDisposedException">The region was disposed.</exception>
    public IntPtr HostAddress
    {
        get
        {
            IntPtr host = _host;
            if (host == IntPtr.Zero)
            {
                ThrowHelper.ThrowObjectDisposed(nameof(GuestRegion));
            }

            return host;
        }
    }

    internal byte* Host => (byte*)_host;

    /// <summary>Allocates zeroed, library-owned host memory for a region.</summary>
    /// <param name="start">The guest-physical start address.</param>
    /// <param name="size">The size in bytes (not zero).</param>
    /// <returns>A region that frees its memory when disposed.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is zero or the region wraps 2^64.</exception>
    public static GuestRegion Allocate(GuestAddress start, ulong size)
    {
        if (size == 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(size), "A region cannot be empty.");
        }

        return new GuestRegion(start, HostMemory.AllocZeroed(size), size, ownsHost: true, owner: null);
    }

    /// <summary>
    /// Wraps host memory that the caller (a VMM) owns. The memory must stay valid until the region
    /// is disposed and every queue that uses it is gone.
    /// </summary>
    /// <param name="start">The guest-physical start address.</param>
    /// <param name="hostAddress">The host address that backs <paramref name="start"/>.</param>
    /// <param name="size">The size in bytes (not zero).</param>
    /// <param name="owner">Disposed with the region (for example the mapping); <see langword="null"/> for none.</param>
    /// <returns>A region over the given memory.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="hostAddress"/> is zero.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is zero or the region wraps 2^64.</exception>
    public static GuestRegion FromHost(GuestAddress start, IntPtr hostAddress, ulong size, IDisposable? owner = null)
    {
        if (hostAddress == IntPtr.Zero)
        {
            ThrowHelper.ThrowArgumentNull(nameof(hostAddress));
        }

        return new GuestRegion(start, (byte*)hostAddress, size, ownsHost: false, owner);
    }

    /// <summary>Tells whether <paramref name="address"/> lies in the region.</summary>
    /// <param name="address">A guest-physical address.</param>
    /// <returns><see langword="true"/> when Start ≤ address &lt; End.</returns>
    public bool Contains(GuestAddress address) => address.Value - Start.Value < Size;

    /// <summary>Releases library-owned memory and disposes the owner, if any.</summary>
    public void Dispose()
    {
        IntPtr host = Interlocked.Exchange(ref _host, IntPtr.Zero);
        if (host == IntPtr.Zero)
        {
            return;
        }

        if (_ownsHost)
        {
            HostMemory.Free((byte*)host);
        }

        _owner?.Dispose();
    }
}
