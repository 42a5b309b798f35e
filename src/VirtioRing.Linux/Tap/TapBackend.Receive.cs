using System;
using System.Threading;
using System.Runtime.InteropServices;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Net;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Tap;

/// <content>Receive: frames read from the TAP until it has none (or the budget is used).</content>
public sealed unsafe partial class TapBackend
{
    /// <summary>How often one call retries at once when the host says buffers appeared but the next try finds none.</summary>
    private const int BufferRetries = 4;

    private const int EthernetHeader = 14;

    /// <inheritdoc/>
    /// <remarks>
    /// <para>With a host that lends its buffers (<see cref="INetDirectReceiveHost"/>, the device engine):
    /// one <c>readv</c> per frame straight into the guest's receive buffers, header first, after making
    /// the TAP's header size the guest's. Otherwise each frame is read into the queue's buffer and
    /// handed to <see cref="INetBackendHost.Deliver"/> with this queue as the hint (the kernel already
    /// spread flows over its queues).</para>
    /// <para>Either way the receive offloads follow the host first, frames are read until the TAP has
    /// none (<c>EAGAIN</c>) or <paramref name="budget"/> is used, and when the host has no buffers the
    /// frame waits (in the kernel, or in the queue's buffer) and the host's buffer waiter wakes the queue.</para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is out of range (a caller bug).</exception>
    public int Receive(int queue, int budget)
    {
        TapQueue q = GetQueue(queue);
        INetBackendHost? host = Volatile.Read(ref _host);
        if (host is null || q.IsFaulted || budget < 1)
        {
            return 0;
        }

        if (!FollowReceiveOffloads(q, host.ReceiveOffloads))
        {
            return 0;
        }

        return host is INetDirectReceiveHost direct ? ReceiveDirect(q, host, direct, budget) : ReceiveDelivered(q, host, budget);
    }

    private int ReceiveDelivered(TapQueue q, INetBackendHost host, int budget)
    {
        int done = 0;
        int retries = 0;
        int failure = 0;
        while (done < budget)
        {
            NetDeliveryResult result;
            lock (q.Gate)
            {
                if (q.Closed)
                {
                    return done;
                }

                int n = q.PendingLength;
                int headerSize = q.PendingHeaderSize;
                if (n == 0)
                {
                    headerSize = _vnetHeaderSize;
                    n = ReadIntoBuffer(q, headerSize, out failure);
                    if (n <= 0)
                    {
                        break;   // drained (the next arrival raises a new edge), or failed
                    }

                    if (n > headerSize + TapQueue.MaxReceiveFrame || n < headerSize + EthernetHeader)
                    {
                        // Longer than the largest frame (it reached the probe past the buffer), or a runt.
                        q.ReceiveTruncated++;
                        done++;
                        continue;
                    }
                }

                // Delivered under the queue's lock (the buffer is freed by Close under it). Lock order: this path
                // runs only for a host that lends no buffers, so no host lock is ever held around a queue's gate
                // here; the direct path is the reverse (host lock, then queue gate) and never meets this one.
                byte* buffer = q.ReceiveBuffer;
                VirtioNetHeader header = VirtioNetHeader.Read(new ReadOnlySpan<byte>(buffer, headerSize), LayoutFor(headerSize));
                result = host.Deliver(q.Index, NetFrame.FromSpan(header, new ReadOnlySpan<byte>(buffer + headerSize, n - headerSize)));
                if (result.Status != NetDeliveryStatus.NoBuffers)
                {
                    q.PendingLength = 0;
                    if (result.IsDelivered)
                    {
                        q.ReceivedFrames++;
                        q.ReceivedBytes += n - headerSize;
                    }
                    else
                    {
                        q.ReceiveRefused++;
                    }

                    done++;
                    continue;
                }

                q.PendingLength = n;   // the TAP gave it up already: kept, and offered again when buffers come
                q.PendingHeaderSize = headerSize;
            }

            // No buffers: wait for the guest to post some (outside the queue's lock).
            if (++retries > BufferRetries)
            {
                WakeHost(q.Index);   // the host keeps saying "there are some" yet none fit: try again next round
                break;
            }

            if (!host.WaitForReceiveBuffers(result.Queue, q))
            {
                break;   // q.Notify wakes this queue when buffers come
            }
        }

        if (failure != 0)
        {
            ReadFailed(q, failure);
        }

        return done;
    }

    /// <summary>Reads one frame into the queue's buffer (under its lock). Returns its length with the header, 0 when none is waiting or a passing error was counted, -1 with <paramref name="failure"/> set when the queue must fail.</summary>
    private int ReadIntoBuffer(TapQueue q, int headerSize, out int failure)
    {
        iovec* iov = q.Iov;
        iov[0].iov_base = q.ReceiveBuffer;
        iov[0].iov_len = (size_t)(headerSize + TapQueue.MaxReceiveFrame);
        iov[1].iov_base = q.Probe;
        iov[1].iov_len = (size_t)1;
        return Read(q, iov, 2, out failure);
    }

    /// <summary>
    /// One <c>readv</c> (under the queue's lock). The kernel returns at most the vectors' length — a
    /// frame that did not fit is cut without a sign — so callers end the vectors with the one-byte
    /// probe: a result past the buffers proper means the frame was longer.
    /// </summary>
    /// <returns>The bytes read; 0 when nothing is waiting (or after a passing error, counted, with a self-wake); -1 when the queue must fail (<paramref name="failure"/> is the errno).</returns>
    private int Read(TapQueue q, iovec* iov, int count, out int failure)
    {
        failure = 0;
        while (true)
        {
            nint n = Tun.readv(q.Fd, iov, count);
            if (n > 0)
            {
                return (int)n;
            }

            if (n == 0)
            {
                return 0;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == LibC.EINTR)
            {
                continue;
            }

            if (errno == LibC.EAGAIN)
            {
                return 0;
            }

            if (errno == LibC.EINVAL || errno == LibC.EFAULT || errno == LibC.ENOMEM)
            {
                // The frame was consumed and dropped; more may wait behind it with no new edge to come: look again next round.
                q.ReceiveErrors++;
                WakeHost(q.Index);
                return 0;
            }

            failure = errno;
            return -1;
        }
    }

    /// <summary>A read failed for good (outside the queue's lock): fail the queue.</summary>
    private void ReadFailed(TapQueue q, int errno) => Fail(q, QueueError("readv", errno, q.Index));
}
