using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Net;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Tap;

/// <content>Transmit: one <c>writev</c> per frame, from guest memory.</content>
public sealed unsafe partial class TapBackend
{
    /// <inheritdoc/>
    /// <remarks>
    /// One <c>writev</c>: the header (<see cref="NetFrame.Header"/> written in the TAP's current
    /// virtio-net header size into the queue's header buffer), then one vector per piece of the frame
    /// where it lies (a chain's pieces are guest memory; a span frame is pinned for the call). Only a
    /// frame of more than 1023 pieces (a hostile gather list) is gathered into a bounce buffer first.
    /// <c>EAGAIN</c> arms <c>EPOLLOUT</c> and answers <see cref="NetTransmitStatus.Busy"/>; see the
    /// class remarks for the other errors. Never throws for an I/O error.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is out of range (a caller bug).</exception>
    public NetTransmitStatus Transmit(int queue, in NetFrame frame)
    {
        TapQueue q = GetQueue(queue);
        if (q.IsFaulted)
        {
            q.DroppedAfterFault++;
            return NetTransmitStatus.Dropped;
        }

        nint n;
        int errno = 0;
        lock (q.Gate)
        {
            if (q.Closed)
            {
                // The backend was disposed under a running device: dropped and counted, never an exception.
                q.DroppedAfterFault++;
                return NetTransmitStatus.Dropped;
            }

            // The size is written only while every queue's gate is held (ChangeHeaderSize): stable in here.
            int headerSize = _vnetHeaderSize;
            frame.Header.Write(new Span<byte>(q.Header, headerSize), LayoutFor(headerSize));
            iovec* iov = q.Iov;
            iov[0].iov_base = q.Header;
            iov[0].iov_len = (size_t)headerSize;
            while (true)
            {
                n = frame.IsChain ? WriteChain(q, frame) : WriteSpan(q, frame);
                if (n >= 0)
                {
                    break;
                }

                errno = Marshal.GetLastPInvokeError();
                if (errno != LibC.EINTR)
                {
                    break;
                }
            }
        }

        if (n >= 0)
        {
            q.TransmittedFrames++;
            q.TransmittedBytes += frame.Length;
            if (frame.Header.GsoType != NetGsoType.None)
            {
                q.TransmittedGsoFrames++;
            }

            if (q.OutputArmed)
            {
                // Writable again: stop asking for EPOLLOUT until the next EAGAIN.
                q.OutputArmed = false;
                _readiness?.SetOutput(q, armed: false);
            }

            return NetTransmitStatus.Sent;
        }

        return TransmitFailed(q, errno);
    }

    internal static NetHeaderLayout LayoutFor(int headerSize) => headerSize switch
    {
        NetHeaderLayout.LegacySize => NetHeaderLayout.Legacy,
        NetHeaderLayout.HashReportSize => NetHeaderLayout.ModernHashReport,
        _ => NetHeaderLayout.Modern,
    };

    private static nint WriteChain(TapQueue q, in NetFrame frame)
    {
        iovec* iov = q.Iov;
        int count = 1;
        foreach (ReadOnlySpan<byte> piece in frame.GetSegments())
        {
            if (count == Tun.IOV_MAX)
            {
                return WriteBounced(q, frame);
            }

            // A chain's pieces are guest memory: native, mapped and unmoving while the chain is held (for
            // the length of this call), so their address is taken without pinning.
            iov[count].iov_base = Unsafe.AsPointer(ref MemoryMarshal.GetReference(piece));
            iov[count].iov_len = (size_t)piece.Length;
            count++;
        }

        return Tun.writev(q.Fd, iov, count);
    }

    private static nint WriteSpan(TapQueue q, in NetFrame frame)
    {
        NetFrame.SegmentEnumerator pieces = frame.GetSegments();
        ReadOnlySpan<byte> bytes = pieces.MoveNext() ? pieces.Current : default;
        iovec* iov = q.Iov;
        fixed (byte* p = bytes)
        {
            // A span frame may be managed memory (the engine's software-checksum copy): pinned for the call.
            iov[1].iov_base = p;
            iov[1].iov_len = (size_t)bytes.Length;
            return Tun.writev(q.Fd, iov, 2);
        }
    }

    /// <summary>A gather list longer than <c>IOV_MAX</c> (only a hostile or odd guest makes one): one copy into the bounce buffer.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nint WriteBounced(TapQueue q, in NetFrame frame)
    {
        if (frame.Length > MaxTransmitFrame)
        {
            Marshal.SetLastPInvokeError(LibC.EMSGSIZE);
            return -1;
        }

        byte* bounce = q.Bounce;
        int length = frame.CopyTo(new Span<byte>(bounce, MaxTransmitFrame));
        iovec* iov = q.Iov;
        iov[1].iov_base = bounce;
        iov[1].iov_len = (size_t)length;
        return Tun.writev(q.Fd, iov, 2);
    }

    private NetTransmitStatus TransmitFailed(TapQueue q, int errno)
    {
        if (errno == LibC.EAGAIN)
        {
            // The send buffer is full (TUNSETSNDBUF). Arm EPOLLOUT on every busy answer: the MOD re-checks
            // readiness, so room that appeared since the write is reported at once (no lost wake-up).
            q.TransmitBusy++;
            q.OutputArmed = true;
            if (_readiness?.SetOutput(q, armed: true) != true)
            {
                WakeHost(q.Index);   // not watched (detached, or the fd is failing): retry on the next round instead of waiting
            }

            return NetTransmitStatus.Busy;
        }

        if (errno == LibC.EINVAL)
        {
            // tun_get_user refused the frame: a virtio-net header it does not accept (hdr_len past the
            // frame, a GSO request that does not fit the packet, csum_offset not at the TCP/UDP checksum)
            // or a runt shorter than an Ethernet header.
            q.TransmitRejected++;
            return NetTransmitStatus.Dropped;
        }

        if (errno == LibC.EIO)
        {
            // The interface is down (not IFF_UP): a state that passes, so the frame is dropped, not the queue.
            q.TransmitLinkDown++;
            return NetTransmitStatus.Dropped;
        }

        if (errno == LibC.ENOMEM || errno == LibC.ENOBUFS || errno == LibC.EFAULT || errno == LibC.EMSGSIZE)
        {
            q.TransmitErrors++;
            return NetTransmitStatus.Dropped;
        }

        // EBADFD: the TAP was deleted (tun_get finds no device). Anything else unexpected ends the queue too.
        Fail(q, QueueError("writev", errno, q.Index));
        q.DroppedAfterFault++;
        return NetTransmitStatus.Dropped;
    }
}
