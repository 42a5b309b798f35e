using System;
using System.Runtime.InteropServices;
using Tmds.Linux;
using VirtioRing.Linux;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Infrastructure;

/// <summary>Writes arbitrary bytes (and any number of fds) to a socket, bypassing the channel's checks.</summary>
public static unsafe class RawSocket
{
    public static void Send(SafeFileDescriptor socket, ReadOnlySpan<byte> bytes, ReadOnlySpan<SafeHandle> fds = default)
    {
        int controlLength = fds.Length == 0 ? 0 : LibC.CMSG_SPACE(sizeof(int) * fds.Length);
        byte[] control = new byte[Math.Max(controlLength, 1)];
        fixed (byte* b = bytes)
        fixed (byte* c = control)
        {
            int sent = 0;
            do
            {
                iovec iov = default;
                iov.iov_base = b + sent;
                iov.iov_len = (size_t)(bytes.Length - sent);
                msghdr msg = default;
                msg.msg_iov = &iov;
                msg.msg_iovlen = 1;
                if (sent == 0 && controlLength > 0)
                {
                    msg.msg_control = c;
                    msg.msg_controllen = (uint)controlLength;
                    cmsghdr* h = LibC.CMSG_FIRSTHDR(&msg);
                    h->cmsg_level = LibC.SOL_SOCKET;
                    h->cmsg_type = LibC.SCM_RIGHTS;
                    h->cmsg_len = (uint)(LibC.CMSG_LEN(0) + (sizeof(int) * fds.Length));
                    int* data = (int*)LibC.CMSG_DATA(h);
                    for (int i = 0; i < fds.Length; i++)
                    {
                        data[i] = (int)fds[i].DangerousGetHandle();
                    }
                }

                long n = LibC.sendmsg(socket.Fd, &msg, LibC.MSG_NOSIGNAL);
                Assert.True(n >= 0, $"sendmsg failed: errno {LibC.errno}");
                sent += (int)n;
            }
            while (sent < bytes.Length);
        }
    }

    /// <summary>Shuts down the writing side: the peer reads the end of the stream after what was sent.</summary>
    public static void ShutdownWrite(SafeFileDescriptor socket) => Assert.Equal(0, LibC.shutdown(socket.Fd, LibC.SHUT_WR));
}
