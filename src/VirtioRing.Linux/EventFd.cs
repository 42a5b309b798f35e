using System;
using System.Runtime.InteropServices;
using System.Diagnostics;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux;

/// <summary>
/// A Linux <c>eventfd</c>: a 64-bit counter in the kernel that <see cref="Notify"/> adds 1 to and
/// <see cref="TryConsume(out ulong)"/> reads and resets. The kick and call signals of virtio
/// (vhost and vhost-user pass exactly these between processes), and an <see cref="INotifier"/>
/// for the engine. Always non-blocking (<c>EFD_NONBLOCK</c>), close-on-exec.
/// </summary>
/// <remarks>
/// Readable (for <c>epoll</c>/<c>poll</c>) while the counter is non-zero. Notifies are coalesced: any
/// number of them before a consume add up to one read value. Thread-safe; <see cref="Notify"/> never
/// blocks (a counter already at its maximum is left as it is: it is signalled anyway).
/// </remarks>
[DebuggerDisplay("eventfd {Handle}")]
public sealed class EventFd : INotifier, IDisposable
{
    private EventFd(SafeFileDescriptor handle)
    {
        Handle = handle;
    }

    /// <summary>Creates an eventfd (<c>EFD_NONBLOCK | EFD_CLOEXEC</c>).</summary>
    /// <param name="initialValue">The counter's first value (non-zero: already signalled).</param>
    /// <param name="semaphore"><c>EFD_SEMAPHORE</c>: each consume takes 1 from the counter instead of all of it.</param>
    /// <exception cref="LinuxException"><c>eventfd</c> failed (<c>EMFILE</c> when out of descriptors).</exception>
    public EventFd(uint initialValue = 0, bool semaphore = false)
    {
        int flags = LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC | (semaphore ? LibC.EFD_SEMAPHORE : 0);
        int fd = LibC.eventfd(initialValue, flags);
        if (fd < 0)
        {
            LinuxThrowHelper.ThrowErrno("eventfd");
        }

        Handle = new SafeFileDescriptor(fd, ownsHandle: true);
    }

    /// <summary>Gets the descriptor (for <c>epoll</c>, or to pass to another process as a kick or call fd).</summary>
    public SafeFileDescriptor Handle { get; }

    /// <summary>
    /// Wraps an eventfd received from elsewhere (a vhost-user <c>SET_VRING_KICK</c>/<c>CALL</c> fd) and
    /// sets <c>O_NONBLOCK</c> on it — a flag of the shared open file description, which the sender's
    /// own eventfd use must tolerate (QEMU and DPDK make theirs non-blocking too). The
    /// <see cref="EventFd"/> takes ownership: disposing it disposes <paramref name="handle"/>.
    /// </summary>
    /// <param name="handle">The descriptor; it should be an eventfd (8-byte reads and writes).</param>
    /// <returns>The eventfd.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="handle"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="handle"/> is invalid.</exception>
    /// <exception cref="LinuxException"><c>fcntl</c> failed (<c>EBADF</c>: not an open descriptor).</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="handle"/> was closed.</exception>
    public static EventFd FromHandle(SafeFileDescriptor handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        if (handle.IsInvalid)
        {
            LinuxThrowHelper.ThrowArgument(nameof(handle), "The descriptor is invalid (-1).");
        }

        handle.SetNonBlocking(true);
        return new EventFd(handle);
    }

    /// <summary>Adds 1 to the counter (wakes whoever polls the fd). Never blocks.</summary>
    /// <exception cref="ObjectDisposedException">The eventfd was disposed.</exception>
    /// <exception cref="LinuxException"><c>write</c> failed other than with <c>EAGAIN</c>/<c>EINTR</c>.</exception>
    public unsafe void Notify()
    {
        using var fd = new FdRef(Handle);
        ulong one = 1;
        while (true)
        {
            long n = LibC.write(fd.Value, &one, sizeof(ulong));
            if (n == sizeof(ulong))
            {
                return;
            }

            int errno = LibC.errno;
            if (errno == LibC.EAGAIN)
            {
                return;   // the counter is at 2^64 - 2: already signalled, nothing to add
            }

            if (errno != LibC.EINTR)
            {
                LinuxThrowHelper.ThrowErrno("write", errno);
            }
        }
    }

    /// <summary>Reads and resets the counter without blocking (in semaphore mode, takes 1).</summary>
    /// <param name="value">The counter's value (the number of notifies coalesced), or 0 when it was zero.</param>
    /// <returns><see langword="true"/> when it was signalled; <see langword="false"/> when the counter was zero.</returns>
    /// <exception cref="ObjectDisposedException">The eventfd was disposed.</exception>
    /// <exception cref="LinuxException"><c>read</c> failed other than with <c>EAGAIN</c>/<c>EINTR</c>.</exception>
    public bool TryConsume(out ulong value) => TryConsume(Handle, out value);

    /// <summary>Reads and resets the counter without blocking.</summary>
    /// <returns><see langword="true"/> when it was signalled.</returns>
    /// <exception cref="ObjectDisposedException">The eventfd was disposed.</exception>
    /// <exception cref="LinuxException"><c>read</c> failed other than with <c>EAGAIN</c>/<c>EINTR</c>.</exception>
    public bool TryConsume() => TryConsume(Handle, out _);

    /// <summary>Waits (<c>poll</c>) until the counter is non-zero or the timeout passes, then reads and resets it.</summary>
    /// <param name="millisecondsTimeout">The longest wait, or -1 for no limit.</param>
    /// <param name="value">The counter's value, or 0 on timeout.</param>
    /// <returns><see langword="false"/> when the timeout passed first.</returns>
    /// <exception cref="ObjectDisposedException">The eventfd was disposed.</exception>
    /// <exception cref="LinuxException"><c>poll</c> or <c>read</c> failed.</exception>
    public unsafe bool Read(int millisecondsTimeout, out ulong value)
    {
        long deadline = millisecondsTimeout < 0 ? long.MaxValue : Environment.TickCount64 + millisecondsTimeout;
        while (true)
        {
            if (TryConsume(Handle, out value))
            {
                return true;
            }

            int wait = millisecondsTimeout < 0 ? -1 : (int)Math.Max(0, deadline - Environment.TickCount64);
            pollfd p = default;
            int n;
            using (var fd = new FdRef(Handle))
            {
                p.fd = fd.Value;
                p.events = LibC.POLLIN;
                p.revents = 0;
                n = Poll.poll(&p, 1, wait);   // not LibC.poll: its errno is not kept, and EINTR must be told apart
            }

            if (n < 0 && LibC.errno != LibC.EINTR)
            {
                LinuxThrowHelper.ThrowErrno("poll");
            }

            if (n == 0)
            {
                // Timed out; one last look, so a notify that raced the timeout is not left behind.
                return TryConsume(Handle, out value);
            }
        }
    }

    /// <summary>Closes the descriptor.</summary>
    public void Dispose() => Handle.Dispose();

    /// <summary>Drains an eventfd-like descriptor without blocking; <c>EAGAIN</c> is "was zero".</summary>
    internal static unsafe bool TryConsume(SafeHandle handle, out ulong value)
    {
        using var fd = new FdRef(handle);
        ulong v = 0;
        while (true)
        {
            long n = LibC.read(fd.Value, &v, sizeof(ulong));
            if (n == sizeof(ulong))
            {
                value = v;
                return true;
            }

            int errno = LibC.errno;
            if (n < 0 && errno == LibC.EAGAIN)
            {
                value = 0;
                return false;
            }

            if (n >= 0 || errno != LibC.EINTR)
            {
                LinuxThrowHelper.ThrowErrno("read", n >= 0 ? LibC.EINVAL : errno);
            }
        }
    }
}
