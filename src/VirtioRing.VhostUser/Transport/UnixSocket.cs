using System;
using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;
using VirtioRing.Linux;

namespace VirtioRing.VhostUser.Transport;

/// <summary>Creating, binding and connecting <c>AF_UNIX</c> stream sockets by path, and waiting on them.</summary>
internal static unsafe partial class UnixSocket
{
    /// <summary><c>sizeof(sun_path)</c>.</summary>
    private const int SunPathLength = 108;

    /// <summary>
    /// <c>poll(2)</c> with <c>errno</c> kept: Tmds.LibC 0.5 declares its <c>poll</c> without <c>SetLastError</c>, so
    /// <c>LibC.errno</c> after it reads what an earlier call left, and an <c>EINTR</c> (a signal, e.g. the SIGCHLD of
    /// a child process the waiting thread started; <c>poll</c> is never restarted) looked like a failure.
    /// </summary>
    /// <returns>The number of ready descriptors, 0 on timeout, or -1 with <c>errno</c> (<c>EINTR</c>: retry).</returns>
    [LibraryImport("libc.so.6", SetLastError = true)]
    internal static partial int poll(pollfd* fds, nuint nfds, int timeout);

    public static SafeFileDescriptor Create()
    {
        int fd = LibC.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new LinuxException("socket", LibC.errno);
        }

        return new SafeFileDescriptor(fd, ownsHandle: true);
    }

    /// <summary>Fills a <c>sockaddr_un</c> for a path.</summary>
    /// <exception cref="ArgumentException">The path is empty, holds a NUL, or does not fit 107 bytes.</exception>
    public static socklen_t Address(string path, sockaddr_un* address)
    {
        int length = Encoding.UTF8.GetByteCount(path);
        if (length == 0 || length >= SunPathLength || path.Contains('\0', StringComparison.Ordinal))
        {
            VhostUserThrowHelper.ThrowArgument(nameof(path), "A unix socket path is 1 to 107 bytes without NUL.");
        }

        *address = default;
        address->sun_family = LibC.AF_UNIX;
        byte* p = (byte*)address + sizeof(ushort);
        Encoding.UTF8.GetBytes(path, new Span<byte>(p, length));
        p[length] = 0;
        return (uint)(sizeof(ushort) + length + 1);
    }
}
