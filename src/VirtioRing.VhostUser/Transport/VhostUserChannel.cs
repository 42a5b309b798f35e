using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Tmds.Linux;
using VirtioRing.Linux;
using VirtioRing.VhostUser.Protocol;

namespace VirtioRing.VhostUser.Transport;

/// <summary>
/// One vhost-user connection: a connected <c>AF_UNIX</c> stream socket over which whole messages are
/// received (<c>recvmsg</c>, fds with <c>SCM_RIGHTS</c>, <c>MSG_CMSG_CLOEXEC</c>) and sent
/// (<c>sendmsg</c>). Every fd received is wrapped in a <see cref="SafeFileDescriptor"/> at once, so
/// none leaks whatever happens next.
/// </summary>
/// <remarks>
/// <para>One thread receives and one thread sends at a time. <see cref="Shutdown"/> may be called from
/// any thread to wake a blocked <see cref="TryReceive"/> (it returns <see langword="false"/>).</para>
/// <para>The channel checks only the framing: version and a size no larger than
/// <see cref="MaxPayloadSize"/>. Which request may carry what is checked by
/// <see cref="VhostUserCodec.ValidateRequest"/>.</para>
/// </remarks>
[DebuggerDisplay("vhost-user channel {Handle}")]
public sealed unsafe class VhostUserChannel : IDisposable
{
    /// <summary>The largest payload the channel reads (larger ones end the connection).</summary>
    public const int MaxPayloadSize = VhostUserCodec.MaxPayloadSize;

    private readonly object _sendGate = new();

    /// <summary>Wraps a connected stream socket; the channel owns it.</summary>
    /// <param name="socket">A connected <c>AF_UNIX</c> <c>SOCK_STREAM</c> socket.</param>
    /// <exception cref="ArgumentNullException"><paramref name="socket"/> is null.</exception>
    public VhostUserChannel(SafeFileDescriptor socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Handle = socket;
    }

    /// <summary>Gets the socket.</summary>
    public SafeFileDescriptor Handle { get; }

    /// <summary>Creates two connected channels (<c>socketpair</c>), for tests and in-process peers.</summary>
    /// <returns>The two ends.</returns>
    /// <exception cref="LinuxException"><c>socketpair</c> failed.</exception>
    public static (VhostUserChannel First, VhostUserChannel Second) CreatePair()
    {
        int* sv = stackalloc int[2];
        if (LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, sv) < 0)
        {
            throw new LinuxException("socketpair", LibC.errno);
        }

        return (new VhostUserChannel(new SafeFileDescriptor(sv[0], ownsHandle: true)), new VhostUserChannel(new SafeFileDescriptor(sv[1], ownsHandle: true)));
    }

    /// <summary>
    /// Receives one whole message: its 12-byte header, its payload and every fd that came with it.
    /// Blocks until it has arrived.
    /// </summary>
    /// <param name="message">The message (the caller disposes it), when the result is <see langword="true"/>.</param>
    /// <returns><see langword="false"/> when the peer closed the connection (or <see cref="Shutdown"/> was called) before a new message began.</returns>
    /// <exception cref="VhostUserProtocolException">The connection ended inside a message, the version is not 1, the payload is over
    /// <see cref="MaxPayloadSize"/>, more than 8 fds came, or the ancillary data was truncated. Every fd received was closed.</exception>
    /// <exception cref="LinuxException"><c>recvmsg</c> failed (<c>ECONNRESET</c>…).</exception>
    /// <exception cref="ObjectDisposedException">The channel was disposed.</exception>
    public bool TryReceive(out VhostUserMessage message)
    {
        message = null!;
        var fds = new List<SafeFileDescriptor>();
        try
        {
            byte* headerBytes = stackalloc byte[VhostUserHeader.Length];
            int got = ReceiveExactly(headerBytes, VhostUserHeader.Length, fds, VhostUserRequest.None, allowEof: true);
            if (got == 0)
            {
                return false;
            }

            VhostUserHeader header = VhostUserHeader.Read(new ReadOnlySpan<byte>(headerBytes, VhostUserHeader.Length));
            if ((header.Flags & VhostUserHeaderFlags.VersionMask) != VhostUserHeaderFlags.Version1)
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadVersion, header.Request, $"version {(uint)(header.Flags & VhostUserHeaderFlags.VersionMask)}, expected 1");
            }

            if (header.Size > MaxPayloadSize)
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.PayloadTooLarge, header.Request, $"payload of {header.Size} bytes, at most {MaxPayloadSize}");
            }

            byte[] payload = header.Size == 0 ? [] : new byte[header.Size];
            if (payload.Length > 0)
            {
                fixed (byte* p = payload)
                {
                    ReceiveExactly(p, payload.Length, fds, header.Request, allowEof: false);
                }
            }

            message = new VhostUserMessage(header, payload, fds.ToArray());
            fds.Clear();
            return true;
        }
        finally
        {
            foreach (SafeFileDescriptor fd in fds)
            {
                fd.Dispose();
            }
        }
    }

    /// <summary>Sends one message: header, payload and (optionally) fds in one <c>sendmsg</c> (more if the socket takes it in parts).</summary>
    /// <param name="header">The header; its size must equal <paramref name="payload"/>'s length.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="fds">Up to 8 fds to pass with the first byte.</param>
    /// <exception cref="ArgumentException">The size does not match, or more than 8 fds.</exception>
    /// <exception cref="LinuxException"><c>sendmsg</c> failed (<c>EPIPE</c>: the peer is gone).</exception>
    /// <exception cref="ObjectDisposedException">The channel or an fd was disposed.</exception>
    public void Send(in VhostUserHeader header, ReadOnlySpan<byte> payload, ReadOnlySpan<SafeHandle> fds = default)
    {
        if (header.Size != (uint)payload.Length)
        {
            VhostUserThrowHelper.ThrowArgument(nameof(header), "The header's size must equal the payload's length.");
        }

        if (fds.Length > VhostUserCodec.MaxFds)
        {
            VhostUserThrowHelper.ThrowArgument(nameof(fds), "At most 8 fds go with one message.");
        }

        int total = VhostUserHeader.Length + payload.Length;
        byte[] buffer = new byte[total];
        header.Write(buffer);
        payload.CopyTo(buffer.AsSpan(VhostUserHeader.Length));

        int controlLength = fds.Length == 0 ? 0 : LibC.CMSG_SPACE(sizeof(int) * fds.Length);
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        new Span<byte>(control, Math.Max(controlLength, 1)).Clear();
        var added = new bool[fds.Length];
        lock (_sendGate)
        {
            bool socketAdded = false;
            try
            {
                Handle.DangerousAddRef(ref socketAdded);
                for (int i = 0; i < fds.Length; i++)
                {
                    fds[i].DangerousAddRef(ref added[i]);
                }

                int sock = (int)Handle.DangerousGetHandle();
                int sent = 0;
                fixed (byte* b = buffer)
                {
                    while (sent < total)
                    {
                        iovec iov = default;
                        iov.iov_base = b + sent;
                        iov.iov_len = (size_t)(total - sent);
                        msghdr msg = default;
                        msg.msg_iov = &iov;
                        msg.msg_iovlen = 1;
                        if (sent == 0 && controlLength > 0)
                        {
                            msg.msg_control = control;
                            msg.msg_controllen = (uint)controlLength;
                            cmsghdr* c = LibC.CMSG_FIRSTHDR(&msg);
                            c->cmsg_level = LibC.SOL_SOCKET;
                            c->cmsg_type = LibC.SCM_RIGHTS;
                            c->cmsg_len = (uint)(LibC.CMSG_LEN(0) + (sizeof(int) * fds.Length));   // C's CMSG_LEN; Tmds.LibC 0.5's rounds up, which would pass extra fds
                            int* data = (int*)LibC.CMSG_DATA(c);
                            for (int i = 0; i < fds.Length; i++)
                            {
                                data[i] = (int)fds[i].DangerousGetHandle();
                            }
                        }

                        long n = LibC.sendmsg(sock, &msg, LibC.MSG_NOSIGNAL);
                        if (n < 0)
                        {
                            int errno = LibC.errno;
                            if (errno == LibC.EINTR)
                            {
                                continue;
                            }

                            throw new LinuxException("sendmsg", errno);
                        }

                        sent += (int)n;
                    }
                }
            }
            finally
            {
                for (int i = 0; i < fds.Length; i++)
                {
                    if (added[i])
                    {
                        fds[i].DangerousRelease();
                    }
                }

                if (socketAdded)
                {
                    Handle.DangerousRelease();
                }
            }
        }
    }

    /// <summary>Sends a reply: the request's code, version 1 with the reply flag, and the payload.</summary>
    /// <param name="request">The request answered.</param>
    /// <param name="payload">The reply payload.</param>
    /// <exception cref="LinuxException"><c>sendmsg</c> failed.</exception>
    /// <exception cref="ObjectDisposedException">The channel was disposed.</exception>
    public void SendReply(VhostUserRequest request, ReadOnlySpan<byte> payload) =>
        Send(new VhostUserHeader(request, VhostUserHeaderFlags.Version1 | VhostUserHeaderFlags.Reply, (uint)payload.Length), payload);

    /// <summary>Shuts the socket down both ways (<c>shutdown(SHUT_RDWR)</c>): a blocked receive returns, the peer sees the end. Idempotent.</summary>
    public void Shutdown()
    {
        bool added = false;
        try
        {
            Handle.DangerousAddRef(ref added);
            _ = LibC.shutdown((int)Handle.DangerousGetHandle(), LibC.SHUT_RDWR);
        }
        catch (ObjectDisposedException)
        {
            // Already closed: nothing to wake.
        }
        finally
        {
            if (added)
            {
                Handle.DangerousRelease();
            }
        }
    }

    /// <summary>Closes the socket.</summary>
    public void Dispose() => Handle.Dispose();

    /// <summary>Receives exactly <paramref name="length"/> bytes (or 0 at a clean end when allowed), collecting fds.</summary>
    private int ReceiveExactly(byte* destination, int length, List<SafeFileDescriptor> fds, VhostUserRequest request, bool allowEof)
    {
        int controlLength = LibC.CMSG_SPACE(sizeof(int) * VhostUserCodec.MaxFds);
        byte* control = stackalloc byte[controlLength];
        int got = 0;
        bool added = false;
        try
        {
            Handle.DangerousAddRef(ref added);
            int sock = (int)Handle.DangerousGetHandle();
            while (got < length)
            {
                iovec iov = default;
                iov.iov_base = destination + got;
                iov.iov_len = (size_t)(length - got);
                msghdr msg = default;
                msg.msg_iov = &iov;
                msg.msg_iovlen = 1;
                msg.msg_control = control;
                msg.msg_controllen = (uint)controlLength;
                long n = LibC.recvmsg(sock, &msg, LibC.MSG_CMSG_CLOEXEC);
                if (n < 0)
                {
                    int errno = LibC.errno;
                    if (errno == LibC.EINTR)
                    {
                        continue;
                    }

                    throw new LinuxException("recvmsg", errno);
                }

                // Take every fd first, so that they are closed whatever is wrong with the message.
                CollectFds(&msg, fds);
                if ((msg.msg_flags & LibC.MSG_CTRUNC) != 0)
                {
                    VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.ControlTruncated, request, "the ancillary data was truncated (too many fds)");
                }

                if (fds.Count > VhostUserCodec.MaxFds)
                {
                    VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.UnexpectedFd, request, $"{fds.Count} fds, at most {VhostUserCodec.MaxFds}");
                }

                if (n == 0)
                {
                    if (got == 0 && allowEof)
                    {
                        return 0;
                    }

                    VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.Truncated, request, $"the connection ended after {got} of {length} bytes");
                }

                got += (int)n;
            }

            return got;
        }
        finally
        {
            if (added)
            {
                Handle.DangerousRelease();
            }
        }
    }

    private static void CollectFds(msghdr* msg, List<SafeFileDescriptor> fds)
    {
        if ((uint)msg->msg_controllen == 0)
        {
            return;
        }

        for (cmsghdr* c = LibC.CMSG_FIRSTHDR(msg); c != null; c = LibC.CMSG_NXTHDR(msg, c))
        {
            long dataLength = (long)(uint)c->cmsg_len - LibC.CMSG_LEN(0);
            if (c->cmsg_level != LibC.SOL_SOCKET || c->cmsg_type != LibC.SCM_RIGHTS || dataLength <= 0)
            {
                continue;
            }

            int count = (int)(dataLength / sizeof(int));
            int* data = (int*)LibC.CMSG_DATA(c);
            for (int i = 0; i < count; i++)
            {
                fds.Add(new SafeFileDescriptor(data[i], ownsHandle: true));
            }
        }
    }
}
