using System;
using System.Threading;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Net;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Packet;

/// <content>Transmit: one <c>sendmsg</c> per frame, gathered straight from the guest's buffers.</content>
public sealed unsafe partial class PacketSocketBackend
{
    /// <summary>The longest frame copied into the private buffer (a virtio-net frame cannot be longer: a 64 KiB IP packet with its link header and two VLAN tags).</summary>
    private const int MaxCopiedFrame = 65535 + 14 + 8 + 64;

    /// <inheritdoc/>
    /// <remarks>
    /// Sends at once, without a copy: the iovec holds the virtio-net header and then the frame's pieces (guest memory,
    /// which does not move). With a <see cref="PacketSocketOptions.Filter"/> the frame is first copied once into a
    /// per-queue buffer, inspected there and sent from there (see <see cref="IPacketSocketFilter"/>). Never throws for
    /// a failed send: the outcome is the status (and the counters); an interface that is gone is reported once through
    /// <see cref="INetBackendHost.ReportFault"/>.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is not below <see cref="QueueCount"/>.</exception>
    public NetTransmitStatus Transmit(int queue, in NetFrame frame)
    {
        PacketQueue q = QueueAt(queue);
        if (q.Fault is not null || Volatile.Read(ref _disposed) != 0)
        {
            ReportFaultOnce(q);
            q.TransmitFaulted++;
            return NetTransmitStatus.Dropped;
        }

        IPacketSocketFilter? filter = _filter;
        if (filter is not null)
        {
            return TransmitCopy(q, frame, filter);
        }

        q.WriteSendHeader(frame.Header);
        if (!frame.IsChain)
        {
            foreach (ReadOnlySpan<byte> only in frame.GetSegments())
            {
                return SendPinned(q, only);   // a span frame is one piece, possibly a managed array: pinned for the call
            }

            return Send(q, 1, 0);   // empty: the kernel refuses it (EINVAL), counted there
        }

        // Chain frames are guest memory: native and fixed in place while the frame lives, so the pieces' addresses
        // can go into the iovec as they are.
        iovec* v = q.SendVector;
        int n = 1;
        foreach (ReadOnlySpan<byte> piece in frame.GetSegments())
        {
            if (n > PacketQueue.MaxFramePieces)
            {
                return TransmitCopy(q, frame, filter: null);   // a gather list longer than the iovec: one copy
            }

            v[n].iov_base = Unsafe.AsPointer(ref MemoryMarshal.GetReference(piece));
            v[n].iov_len = (size_t)(nuint)piece.Length;
            n++;
        }

        return Send(q, n, frame.Length);
    }

    /// <summary>Copies the frame once into the queue's private buffer, lets the filter inspect the copy (if any) and sends the copy.</summary>
    private NetTransmitStatus TransmitCopy(PacketQueue q, in NetFrame frame, IPacketSocketFilter? filter)
    {
        int length = frame.Length;
        if ((uint)length > MaxCopiedFrame)
        {
            q.TransmitTooLong++;
            return NetTransmitStatus.Dropped;
        }

        byte[] copy = q.SendCopy ??= GC.AllocateUninitializedArray<byte>(MaxCopiedFrame, pinned: true);
        Span<byte> bytes = copy.AsSpan(0, frame.CopyTo(copy.AsSpan(0, length)));
        VirtioNetHeader header = frame.Header;
        if (filter is not null && filter.Inspect(NetFrame.FromSpan(header, bytes), PacketDirection.Transmit, q.Index) == PacketFilterVerdict.Drop)
        {
            q.TransmitFiltered++;
            return NetTransmitStatus.Dropped;
        }

        q.WriteSendHeader(header);
        return SendPinned(q, bytes);
    }

    private NetTransmitStatus SendPinned(PacketQueue q, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes)
        {
            iovec* v = q.SendVector;
            v[1].iov_base = p;
            v[1].iov_len = (size_t)(nuint)bytes.Length;
            return Send(q, 2, bytes.Length);
        }
    }

    /// <summary>Sends the queue's iovec (<paramref name="count"/> entries: the header, then the frame) and sorts the outcome.</summary>
    private NetTransmitStatus Send(PacketQueue q, int count, int length)
    {
        iovec* v = q.SendVector;
        v[0].iov_base = q.SendHeader;
        v[0].iov_len = PacketLibC.VirtioNetHdrSize;
        msghdr m = default;
        m.msg_iov = v;
        m.msg_iovlen = count;
        int errno;
        using (var fd = new FdRef(q.Socket))
        {
            while (true)
            {
                if ((long)LibC.sendmsg(fd.Value, &m, LibC.MSG_DONTWAIT) >= 0)
                {
                    q.TransmittedFrames++;
                    q.TransmittedBytes += length;
                    return NetTransmitStatus.Sent;
                }

                errno = LibC.errno;
                if (errno != LibC.EINTR)
                {
                    break;
                }
            }
        }

        return SendFailed(q, errno);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private NetTransmitStatus SendFailed(PacketQueue q, int errno)
    {
        if (errno == LibC.EAGAIN)
        {
            // The socket's send buffer is full: woken on EPOLLOUT.
            q.TransmitBusy++;
            _readiness.WaitWritable(q);
            return NetTransmitStatus.Busy;
        }

        if (errno == LibC.ENOBUFS)
        {
            // The device's queue is full (the qdisc or the driver dropped it): retried shortly.
            q.TransmitBusy++;
            _readiness.RetryLater(q);
            return NetTransmitStatus.Busy;
        }

        if (errno == LibC.EMSGSIZE)
        {
            q.TransmitTooLong++;
            return NetTransmitStatus.Dropped;
        }

        if (errno == LibC.EINVAL || errno == LibC.EFAULT)
        {
            q.TransmitInvalid++;
            return NetTransmitStatus.Dropped;
        }

        if (errno == LibC.ENXIO || errno == LibC.ENODEV || errno == LibC.ENETDOWN)
        {
            // ENETDOWN is also what a link that is merely down answers: the interface is gone only when the
            // socket lost its binding (the kernel unbinds it when the interface is unregistered).
            if (errno == LibC.ENETDOWN && q.BoundInterfaceIndex() == InterfaceIndex)
            {
                q.TransmitLinkDown++;
                return NetTransmitStatus.Dropped;
            }

            q.TrySetFault(new LinuxException("sendmsg", errno,
                $"interface \"{InterfaceName}\" (index {InterfaceIndex}) was deleted or left the namespace; backend queue {q.Index} stops"));
            ReportFaultOnce(q);
            q.TransmitFaulted++;
            return NetTransmitStatus.Dropped;
        }

        q.TransmitErrors++;
        return NetTransmitStatus.Dropped;
    }

    /// <summary>Reports the queue's fault to the host, once per queue (from whichever thread notices it first).</summary>
    internal void ReportFaultOnce(PacketQueue q)
    {
        INetBackendHost? host = Volatile.Read(ref _host);
        if (host is not null && q.TryClaimFaultReport())
        {
            host.ReportFault(q.Index, q.Fault!);
        }
    }
}
