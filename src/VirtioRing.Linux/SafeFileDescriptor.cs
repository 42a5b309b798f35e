using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Tmds.Linux;
using VirtioRing.Linux.Interop;

namespace VirtioRing.Linux;

/// <summary>
/// A Linux file descriptor as a <see cref="SafeHandle"/>: -1 is invalid, releasing it <c>close</c>s it
/// (when owned). Every fd the library opens is one of these; an fd received from elsewhere (over a
/// unix socket with <c>SCM_RIGHTS</c>, from a VMM) is wrapped with <see cref="SafeFileDescriptor(int, bool)"/>.
/// </summary>
[DebuggerDisplay("fd {DebugFd}")]
public sealed class SafeFileDescriptor : SafeHandle
{
    /// <summary>Creates an invalid (-1) descriptor that owns what it is later set to.</summary>
    public SafeFileDescriptor()
        : base(new IntPtr(-1), ownsHandle: true)
    {
    }

    /// <summary>Wraps an existing descriptor.</summary>
    /// <param name="fd">The descriptor number.</param>
    /// <param name="ownsHandle">Whether disposing this closes <paramref name="fd"/>.</param>
    public SafeFileDescriptor(int fd, bool ownsHandle)
        : base(new IntPtr(-1), ownsHandle)
    {
        SetHandle(new IntPtr(fd));
    }

    /// <inheritdoc/>
    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>
    /// Gets the descriptor number, for passing to another process or to code outside the library.
    /// The number stays valid only while this handle is open.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The handle was closed.</exception>
    public int Fd
    {
        get
        {
            if (IsClosed || IsInvalid)
            {
                LinuxThrowHelper.ThrowObjectDisposed(nameof(SafeFileDescriptor));
            }

            return (int)handle;
        }
    }

    private string DebugFd => IsClosed ? "closed" : handle.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Tells whether <c>O_NONBLOCK</c> is set on the descriptor's open file description.</summary>
    /// <returns><see langword="true"/> when reads and writes do not block.</returns>
    /// <exception cref="LinuxException"><c>fcntl</c> failed.</exception>
    /// <exception cref="ObjectDisposedException">The handle was closed.</exception>
    public bool IsNonBlocking()
    {
        using var fd = new FdRef(this);
        int flags = LibC.fcntl(fd.Value, LibC.F_GETFL);
        if (flags < 0)
        {
            LinuxThrowHelper.ThrowErrno("fcntl");
        }

        return (flags & LibC.O_NONBLOCK) != 0;
    }

    /// <summary>
    /// Sets or clears <c>O_NONBLOCK</c>. The flag belongs to the open file description, so a process
    /// that shares it (an fd passed with <c>SCM_RIGHTS</c>) sees the change too.
    /// </summary>
    /// <param name="nonBlocking">Whether reads and writes should return <c>EAGAIN</c> instead of blocking.</param>
    /// <exception cref="LinuxException"><c>fcntl</c> failed (<c>EBADF</c> for a descriptor that is not open).</exception>
    /// <exception cref="ObjectDisposedException">The handle was closed.</exception>
    public void SetNonBlocking(bool nonBlocking)
    {
        using var fd = new FdRef(this);
        int flags = LibC.fcntl(fd.Value, LibC.F_GETFL);
        if (flags < 0)
        {
            LinuxThrowHelper.ThrowErrno("fcntl");
        }

        int wanted = nonBlocking ? flags | LibC.O_NONBLOCK : flags & ~LibC.O_NONBLOCK;
        if (wanted != flags && LibC.fcntl(fd.Value, LibC.F_SETFL, wanted) < 0)
        {
            LinuxThrowHelper.ThrowErrno("fcntl");
        }
    }

    /// <summary>Duplicates the descriptor (<c>F_DUPFD_CLOEXEC</c>): a new, owned fd on the same open file description.</summary>
    /// <param name="fd">The descriptor to duplicate.</param>
    /// <returns>The new descriptor.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="fd"/> is null.</exception>
    /// <exception cref="LinuxException"><c>fcntl</c> failed.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="fd"/> was closed.</exception>
    public static SafeFileDescriptor Duplicate(SafeHandle fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        using var r = new FdRef(fd);
        int copy = LibC.fcntl(r.Value, LibC.F_DUPFD_CLOEXEC, 0);
        if (copy < 0)
        {
            LinuxThrowHelper.ThrowErrno("fcntl", "F_DUPFD_CLOEXEC");
        }

        return new SafeFileDescriptor(copy, ownsHandle: true);
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => LibC.close((int)handle) == 0;
}
