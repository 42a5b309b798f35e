using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using Tmds.Linux;
using VirtioRing.Linux;

namespace VirtioRing.VhostUser.Transport;

/// <summary>
/// A listening <c>AF_UNIX</c> socket at a path, for a back-end in server mode (QEMU connects:
/// <c>-chardev socket,path=…</c> without <c>server=on</c>). Accepts one connection at a time; the
/// caller serves it and accepts the next.
/// </summary>
[DebuggerDisplay("vhost-user listener {Path}")]
public sealed unsafe class VhostUserListener : IDisposable
{
    private readonly SafeFileDescriptor _socket;
    private int _disposed;

    /// <summary>Binds and listens at <paramref name="path"/>.</summary>
    /// <param name="path">The socket path (at most 107 bytes).</param>
    /// <param name="replaceExisting">Whether to remove a stale socket file left at the path first (only a socket is removed, never another kind of file).</param>
    /// <exception cref="ArgumentException">The path does not fit a <c>sockaddr_un</c>.</exception>
    /// <exception cref="LinuxException"><c>socket</c>, <c>bind</c> (<c>EADDRINUSE</c>) or <c>listen</c> failed.</exception>
    public VhostUserListener(string path, bool replaceExisting = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        Path = path;
        if (replaceExisting && IsSocketFile(path))
        {
            File.Delete(path);
        }

        _socket = UnixSocket.Create();
        try
        {
            sockaddr_un address;
            socklen_t length = UnixSocket.Address(path, &address);
            int fd = _socket.Fd;
            if (LibC.bind(fd, (sockaddr*)&address, length) < 0)
            {
                throw new LinuxException("bind", LibC.errno, path);
            }

            if (LibC.listen(fd, 1) < 0)
            {
                throw new LinuxException("listen", LibC.errno, path);
            }
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    /// <summary>Gets the socket path.</summary>
    public string Path { get; }

    /// <summary>Waits for a front-end to connect.</summary>
    /// <param name="cancellationToken">Ends the wait (checked every 100 ms).</param>
    /// <returns>The connection.</returns>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    /// <exception cref="LinuxException"><c>poll</c> or <c>accept4</c> failed.</exception>
    /// <exception cref="ObjectDisposedException">The listener was disposed.</exception>
    public VhostUserChannel Accept(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            bool added = false;
            try
            {
                _socket.DangerousAddRef(ref added);
                int fd = (int)_socket.DangerousGetHandle();
                pollfd p = default;
                p.fd = fd;
                p.events = LibC.POLLIN;
                int ready = UnixSocket.poll(&p, 1, 100);   // not LibC.poll, whose errno is not kept: EINTR is retried below
                if (ready < 0)
                {
                    int errno = LibC.errno;
                    if (errno == LibC.EINTR)
                    {
                        continue;
                    }

                    throw new LinuxException("poll", errno);
                }

                if (ready == 0)
                {
                    continue;
                }

                int client = LibC.accept4(fd, null, null, LibC.SOCK_CLOEXEC);
                if (client < 0)
                {
                    int errno = LibC.errno;
                    if (errno == LibC.EINTR || errno == LibC.EAGAIN || errno == LibC.ECONNABORTED)
                    {
                        continue;
                    }

                    throw new LinuxException("accept4", errno);
                }

                return new VhostUserChannel(new SafeFileDescriptor(client, ownsHandle: true));
            }
            finally
            {
                if (added)
                {
                    _socket.DangerousRelease();
                }
            }
        }
    }

    /// <summary>Closes the socket and removes the socket file.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _socket.Dispose();
        try
        {
            if (IsSocketFile(Path))
            {
                File.Delete(Path);
            }
        }
        catch (IOException)
        {
            // Best effort: the file may be gone or replaced.
        }
        catch (UnauthorizedAccessException)
        {
            // Best effort.
        }
    }

    private static bool IsSocketFile(string path)
    {
        return IsSocket(path);
    }

    private static bool IsSocket(string path)
    {
        stat st;
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            if (LibC.lstat(p, &st) < 0)
            {
                return false;
            }
        }

        return (st.st_mode & LibC.S_IFMT) == LibC.S_IFSOCK;
    }
}
