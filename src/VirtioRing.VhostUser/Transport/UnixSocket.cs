using System;
using System.Text;
using Tmds.Linux;
using VirtioRing.Linux;

namespace VirtioRing.VhostUser.Transport;

/// <summary>Creating, binding and connecting <c>AF_UNIX</c> stream sockets by path.</summary>
internal static unsafe class UnixSocket
{
    /// <summary><c>sizeof(sun_path)</c>.</summary>
    private const int SunPathLength = 108;

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
