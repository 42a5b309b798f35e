using System;
using System.Threading;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Tap;

/// <content>Receive in place: <c>readv</c> straight into the guest's receive buffers the host lends.</content>
public sealed unsafe partial class TapBackend
{
    private int ReceiveDirect(TapQueue q, INetBackendHost host, INetDirectReceiveHost direct, int budget)
    {
        int done = 0;
        int retries = 0;
        while (true)
        {
            NetDirectReceiveResult r = direct.ReceiveDirect(q.Index, q.Reader, budget - done);
            done += r.Frames;
            if (r.Status != NetDirectReceiveStatus.NoBuffers || done >= budget)
            {
                // Drained (a new edge comes with the next frame), budget used (the engine polls again since
                // the work was not 0), queue down, or the reader failed and reported it.
                return done;
            }

            // The frame stays in the kernel until the guest posts buffers; the waiter wakes this queue then.
            if (++retries > BufferRetries)
            {
                WakeHost(q.Index);
                return done;
            }

            if (!host.WaitForReceiveBuffers(r.Queue, q))
            {
                return done;
            }
        }
    }

    /// <summary>
    /// <see cref="INetDirectReader.Read"/> for a queue: one <c>readv</c> with one vector per lent
    /// segment and the overflow probe last, after making the kernel's header size the guest's.
    /// </summary>
    /// <returns>The bytes read (more than <see cref="NetReceiveBuffers.Capacity"/> when the frame did not fit), 0 when none is waiting, -1 when the queue failed (reported).</returns>
    internal int ReadDirect(TapQueue q, in NetReceiveBuffers buffers)
    {
        if (q.IsFaulted)
        {
            return -1;
        }

        int headerSize = buffers.HeaderSize;
        if (headerSize != Volatile.Read(ref _vnetHeaderSize) && !ChangeHeaderSize(q, headerSize))
        {
            return q.IsFaulted ? -1 : 0;
        }

        int n;
        int failure;
        long lent = 0;
        lock (q.Gate)
        {
            if (q.Closed || _vnetHeaderSize != headerSize)
            {
                return 0;
            }

            // One vector is kept for the probe (readv takes at most IOV_MAX); the host lends at most that many.
            int count = Math.Min(buffers.SegmentCount, Tun.IOV_MAX - 1);
            iovec* iov = q.Iov;
            for (int i = 0; i < count; i++)
            {
                Span<byte> segment = buffers.GetSegment(i);

                // Lent guest memory: native and unmoving for the length of this call (NetReceiveBuffers' contract).
                iov[i].iov_base = Unsafe.AsPointer(ref MemoryMarshal.GetReference(segment));
                iov[i].iov_len = (size_t)segment.Length;
                lent += segment.Length;
            }

            iov[count].iov_base = q.Probe;
            iov[count].iov_len = (size_t)1;
            n = Read(q, iov, count + 1, out failure);
        }

        if (n < 0)
        {
            ReadFailed(q, failure);
            return -1;
        }

        if (n == 0)
        {
            return 0;
        }

        if (n > lent)
        {
            // The frame reached the probe: it was longer than the buffers (the kernel cut it and says
            // only how much it copied). Report more than the capacity so the host drops it.
            q.ReceiveTruncated++;
            return (int)Math.Max(n, (long)buffers.Capacity + 1);
        }

        q.ReceivedFrames++;
        q.ReceivedBytes += n - headerSize;
        return n;
    }
}
