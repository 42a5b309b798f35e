using System;
using System.Runtime.InteropServices;
using VirtioRing.Linux;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Transport;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Infrastructure;

/// <summary>A minimal vhost-user front-end, as QEMU's vhost-user code would drive a back-end.</summary>
public sealed class TestFrontend(VhostUserChannel channel) : IDisposable
{
    public VhostUserChannel Channel { get; } = channel;

    /// <summary>What to add to a failure message (the back-end's log).</summary>
    public Func<string>? Diagnostics { get; set; }

    /// <summary>Whether to set NEED_REPLY on requests without a reply of their own (after REPLY_ACK is negotiated).</summary>
    public bool ReplyAck { get; set; }

    public void Send(VhostUserRequest request, ReadOnlySpan<byte> payload, params SafeHandle[] fds)
    {
        bool ack = ReplyAck && !VhostUserCodec.HasReply(request);
        var flags = VhostUserHeaderFlags.Version1 | (ack ? VhostUserHeaderFlags.NeedReply : 0);
        Channel.Send(new VhostUserHeader(request, flags, (uint)payload.Length), payload, fds);
        if (ack)
        {
            Assert.Equal(0UL, VhostUserCodec.ReadU64(Receive(request)));
        }
    }

    public byte[] Receive(VhostUserRequest request)
    {
        Assert.True(WaitReadable(Environment.TickCount64 + 10_000), $"no reply to {request} within 10 s: {Diagnostics?.Invoke()}");
        Assert.True(Channel.TryReceive(out VhostUserMessage reply), $"no reply to {request}: {Diagnostics?.Invoke()}");
        using (reply)
        {
            Assert.Equal(request, reply.Header.Request);
            Assert.True(reply.Header.IsReply);
            Assert.Equal(0, reply.FdCount);
            return reply.Payload.ToArray();
        }
    }

    public ulong GetU64(VhostUserRequest request)
    {
        Send(request, default);
        return VhostUserCodec.ReadU64(Receive(request));
    }

    public void SetU64(VhostUserRequest request, ulong value, params SafeHandle[] fds)
    {
        Span<byte> p = stackalloc byte[8];
        VhostUserCodec.WriteU64(p, value);
        Send(request, p, fds);
    }

    public void SetState(VhostUserRequest request, uint index, uint num)
    {
        Span<byte> p = stackalloc byte[8];
        VhostUserCodec.WriteVringState(p, new VhostUserVringState(index, num));
        Send(request, p);
    }

    public uint GetVringBase(uint index)
    {
        Span<byte> p = stackalloc byte[8];
        VhostUserCodec.WriteVringState(p, new VhostUserVringState(index, 0));
        Send(VhostUserRequest.GetVringBase, p);
        VhostUserVringState s = VhostUserCodec.ReadVringState(Receive(VhostUserRequest.GetVringBase));
        Assert.Equal(index, s.Index);
        return s.Num;
    }

    public void SetVringAddr(in VhostUserVringAddress address)
    {
        Span<byte> p = stackalloc byte[VhostUserVringAddress.Length];
        VhostUserCodec.WriteVringAddress(p, address);
        Send(VhostUserRequest.SetVringAddr, p);
    }

    public void SetMemTable(ReadOnlySpan<VhostUserMemoryRegion> regions, params SafeHandle[] fds)
    {
        byte[] p = new byte[VhostUserCodec.MemoryTableLength(regions.Length)];
        VhostUserCodec.WriteMemoryTable(p, regions);
        Send(VhostUserRequest.SetMemTable, p, fds);
    }

    /// <summary>SET_LOG_BASE with LOG_SHMFD: the log description and its fd; waits for the (empty) reply.</summary>
    public void SetLogBase(ulong size, ulong offset, SafeHandle fd)
    {
        Span<byte> p = stackalloc byte[VhostUserLog.Length];
        VhostUserCodec.WriteLog(p, new VhostUserLog(size, offset));
        Send(VhostUserRequest.SetLogBase, p, fd);
        Assert.Empty(Receive(VhostUserRequest.SetLogBase));
    }

    public void SetVringFd(VhostUserRequest request, uint index, EventFd? fd)
    {
        if (fd is null)
        {
            SetU64(request, index | VhostUserCodec.VringNoFdFlag);
        }
        else
        {
            SetU64(request, index, fd.Handle);
        }
    }

    /// <summary>
    /// Waits until the back-end has closed the connection (end of stream, or a reset), discarding what it still sent.
    /// </summary>
    /// <returns>Whether it closed within <paramref name="timeoutMilliseconds"/>.</returns>
    public bool WaitForClose(int timeoutMilliseconds)
    {
        long end = Environment.TickCount64 + timeoutMilliseconds;
        while (true)
        {
            if (!WaitReadable(end))
            {
                return false;
            }

            try
            {
                if (!Channel.TryReceive(out VhostUserMessage message))
                {
                    return true;
                }

                message.Dispose();
            }
            catch (LinuxException)
            {
                return true;   // ECONNRESET: it closed with our last message unread
            }
            catch (VhostUserProtocolException)
            {
                return true;   // the stream ended inside a message
            }
        }
    }

    public void Dispose() => Channel.Dispose();

    /// <summary>
    /// Waits until the socket is readable (or at its end) or <paramref name="deadline"/> (<see cref="Environment.TickCount64"/>)
    /// passes. A signal is not the end of the wait: a child process this thread started (a QEMU guest) interrupts
    /// <c>poll</c> when it exits, and that is no timeout.
    /// </summary>
    private unsafe bool WaitReadable(long deadline)
    {
        while (true)
        {
            Tmds.Linux.pollfd p = default;
            p.fd = Channel.Handle.Fd;
            p.events = Tmds.Linux.LibC.POLLIN;
            int n = UnixSocket.poll(&p, 1, (int)Math.Max(0, deadline - Environment.TickCount64));
            if (n >= 0)
            {
                return n == 1;
            }

            int errno = Tmds.Linux.LibC.errno;
            Assert.True(errno == Tmds.Linux.LibC.EINTR, $"poll failed: errno {errno}");
        }
    }
}
