using System;
using System.Threading;
using Tmds.Linux;
using VirtioRing.Linux;

namespace VirtioRing.VhostUser.Transport;

/// <summary>
/// Connects to a front-end listening at a path, for a back-end in client mode (QEMU:
/// <c>-chardev socket,path=…,server=on</c>; DPDK: <c>vhost-user client</c>), retrying with an
/// exponential backoff while the path is missing or nobody listens.
/// </summary>
public static unsafe class VhostUserConnector
{
    /// <summary>Connects once.</summary>
    /// <param name="path">The socket path.</param>
    /// <returns>The connection.</returns>
    /// <exception cref="ArgumentException">The path does not fit a <c>sockaddr_un</c>.</exception>
    /// <exception cref="LinuxException"><c>connect</c> failed (<c>ENOENT</c>, <c>ECONNREFUSED</c>…).</exception>
    public static VhostUserChannel Connect(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        SafeFileDescriptor socket = UnixSocket.Create();
        try
        {
            sockaddr_un address;
            socklen_t length = UnixSocket.Address(path, &address);
            while (LibC.connect(socket.Fd, (sockaddr*)&address, length) < 0)
            {
                int errno = LibC.errno;
                if (errno != LibC.EINTR)
                {
                    throw new LinuxException("connect", errno, path);
                }
            }

            return new VhostUserChannel(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Connects, retrying after <c>ENOENT</c>, <c>ECONNREFUSED</c> or <c>EAGAIN</c> with a delay that
    /// doubles from <paramref name="initialDelay"/> up to <paramref name="maxDelay"/>.
    /// </summary>
    /// <param name="path">The socket path.</param>
    /// <param name="initialDelay">The first delay.</param>
    /// <param name="maxDelay">The longest delay.</param>
    /// <param name="cancellationToken">Ends the retries.</param>
    /// <returns>The connection.</returns>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    /// <exception cref="LinuxException"><c>connect</c> failed with another error.</exception>
    public static VhostUserChannel ConnectWithRetry(string path, TimeSpan initialDelay, TimeSpan maxDelay, CancellationToken cancellationToken = default)
    {
        TimeSpan delay = initialDelay <= TimeSpan.Zero ? TimeSpan.FromMilliseconds(1) : initialDelay;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return Connect(path);
            }
            catch (LinuxException e) when (e.Errno == LibC.ENOENT || e.Errno == LibC.ECONNREFUSED || e.Errno == LibC.EAGAIN)
            {
                if (cancellationToken.WaitHandle.WaitOne(delay))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, Math.Max(maxDelay.Ticks, delay.Ticks)));
            }
        }
    }
}
