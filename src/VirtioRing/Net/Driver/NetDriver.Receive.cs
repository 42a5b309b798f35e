using System;
using VirtioRing.Net.Rx;
using VirtioRing.Queues;

namespace VirtioRing.Net.Driver;

public sealed unsafe partial class NetDriver
{
    /// <summary>Receives the next frame of pair <paramref name="pair"/> (see <see cref="Receive"/>).</summary>
    /// <param name="pair">The queue pair.</param>
    /// <param name="destination">Where the frame (Ethernet header onwards) is copied.</param>
    /// <param name="header">The frame's virtio-net header (checksum state, GSO, hash, <c>num_buffers</c>).</param>
    /// <param name="length">The frame length.</param>
    /// <returns><see langword="true"/> when a frame was received; otherwise <see cref="Receive"/> tells why not.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pair"/> is not a bound pair.</exception>
    /// <exception cref="InvalidOperationException">The driver is not bound.</exception>
    public bool TryReceive(int pair, Span<byte> destination, out VirtioNetHeader header, out int length) =>
        Receive(pair, destination, out header, out length) == NetDriverStatus.Ok;

    /// <summary>
    /// Receives the next frame of pair <paramref name="pair"/>: reclaims its first buffer, reads the
    /// header, collects the <c>num_buffers</c> buffers of a mergeable frame (§5.1.6.4), copies the frame
    /// out and posts the buffers again at once (the queue stays full). Reposted buffers become visible to
    /// the device in groups (up to 32, a quarter of the queue), and all of them when a call finds the
    /// queue empty — so receive until <see cref="NetDriverStatus.Empty"/>, or call <see cref="FlushReceive"/>.
    /// </summary>
    /// <param name="pair">The queue pair.</param>
    /// <param name="destination">Where the frame (Ethernet header onwards) is copied.</param>
    /// <param name="header">The frame's virtio-net header.</param>
    /// <param name="length">The frame length; with <see cref="NetDriverStatus.DestinationTooSmall"/>, the length needed.</param>
    /// <returns>
    /// <see cref="NetDriverStatus.Ok"/>; <see cref="NetDriverStatus.Empty"/> (nothing, or not all of a
    /// frame's buffers are visible yet); <see cref="NetDriverStatus.DestinationTooSmall"/> (the frame stays
    /// waiting); or <see cref="NetDriverStatus.Faulted"/>: the device broke the ring, used a buffer with
    /// less than a header, or gave a <c>num_buffers</c> it cannot have (see <see cref="GetFault"/>).
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pair"/> is not a bound pair.</exception>
    /// <exception cref="InvalidOperationException">The driver is not bound.</exception>
    public NetDriverStatus Receive(int pair, Span<byte> destination, out VirtioNetHeader header, out int length)
    {
        NetDriverReceiveQueue q = GetReceive(pair);
        header = default;
        length = 0;
        if (q.Fault != NetDriverFault.None)
        {
            return NetDriverStatus.Faulted;
        }

        NetDriverStatus s = Collect(q);
        if (s != NetDriverStatus.Ok)
        {
            return s;
        }

        header = q.PendingHeader;
        length = FrameLength(q);
        if (length > destination.Length)
        {
            return NetDriverStatus.DestinationTooSmall;
        }

        Frame(q, length).CopyTo(destination);
        q.Packets++;
        q.Bytes += (ulong)length;
        Repost(q);
        return NetDriverStatus.Ok;
    }

    /// <summary>
    /// Hands up to <paramref name="budget"/> waiting frames of pair <paramref name="pair"/> to
    /// <paramref name="receiver"/> in place (no copy), reposting each frame's buffers after the call.
    /// </summary>
    /// <typeparam name="TReceiver">The receiver type (a struct is called without virtual dispatch).</typeparam>
    /// <param name="pair">The queue pair.</param>
    /// <param name="receiver">The receiver.</param>
    /// <param name="budget">The most frames to hand over.</param>
    /// <returns>The number of frames handed over; fewer than the budget when the queue ran empty or faulted (see <see cref="GetFault"/>).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pair"/> is not a bound pair, or <paramref name="budget"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">The driver is not bound.</exception>
    public int ReceiveBatch<TReceiver>(int pair, ref TReceiver receiver, int budget = int.MaxValue)
        where TReceiver : INetFrameReceiver
    {
        NetDriverReceiveQueue q = GetReceive(pair);
        if (budget < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(budget));
        }

        int n = 0;
        while (n < budget && q.Fault == NetDriverFault.None && Collect(q) == NetDriverStatus.Ok)
        {
            int length = FrameLength(q);
            VirtioNetHeader header = q.PendingHeader;
            try
            {
                receiver.OnFrame(header, Frame(q, length));
            }
            finally
            {
                q.Packets++;
                q.Bytes += (ulong)length;
                Repost(q);
            }

            n++;
        }

        q.PublishReposted();
        return n;
    }

    /// <summary>Publishes the receive buffers reposted on pair <paramref name="pair"/> and not yet visible to the device (and kicks it when asked to).</summary>
    /// <param name="pair">The queue pair.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pair"/> is not a bound pair.</exception>
    /// <exception cref="InvalidOperationException">The driver is not bound.</exception>
    public void FlushReceive(int pair)
    {
        NetDriverReceiveQueue q = GetReceive(pair);
        if (q.Fault == NetDriverFault.None && !q.CheckBroken())
        {
            q.PublishReposted();
        }
    }

    /// <summary>Gets the number of receive buffers pair <paramref name="pair"/> has posted to the device.</summary>
    /// <param name="pair">The queue pair.</param>
    /// <returns>The count.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pair"/> is not a bound pair.</exception>
    /// <exception cref="InvalidOperationException">The driver is not bound.</exception>
    public int GetReceivePosted(int pair) => GetReceive(pair).Queue.Outstanding;

    /// <summary>The collected frame's length: the used lengths minus the header (at most buffers × buffer size: the queue checked each length).</summary>
    private int FrameLength(NetDriverReceiveQueue q)
    {
        long total = -HeaderLayout.Size;
        for (int i = 0; i < q.PendingCount; i++)
        {
            total += q.PendingLengths[i];
        }

        return (int)Math.Min(total, int.MaxValue);
    }

    private NetReceivedFrame Frame(NetDriverReceiveQueue q, int length) =>
        new(q.Host, q.BufferSize, q.PendingBuffers, q.PendingLengths, q.PendingCount, HeaderLayout.Size, length);

    /// <summary>Reclaims the buffers of the next frame into the queue's pending list, validating the device's answer.</summary>
    private NetDriverStatus Collect(NetDriverReceiveQueue q)
    {
        int hdr = HeaderLayout.Size;
        int budget = q.BufferCount;   // a device returning empty buffers as fast as we repost them cannot keep us here
        while (q.PendingExpected == 0)
        {
            if (budget-- == 0)
            {
                q.PublishReposted();
                return NetDriverStatus.Empty;
            }

            switch (q.Queue.TryReclaimUsed(out UsedBuffer used))
            {
                case PopStatus.Empty:
                    q.PublishReposted();   // drained: the device gets every buffer back before the caller waits
                    return NetDriverStatus.Empty;
                case PopStatus.Broken:
                    q.CheckBroken();
                    return NetDriverStatus.Faulted;
            }

            int buffer = (int)used.Token;
            if (used.WrittenLength == 0)
            {
                // A buffer handed back unused (a device stopping, or returning held buffers): post it again.
                q.Post(buffer);
                q.Unpublished++;
                continue;
            }

            if (used.WrittenLength < (uint)hdr)
            {
                return Fail(q, NetDriverFault.ShortFrame);
            }

            VirtioNetHeader h = VirtioNetHeader.Read(new ReadOnlySpan<byte>(q.Host + ((long)buffer * q.BufferSize), hdr), HeaderLayout);
            int expected = 1;
            if (ReceiveMode == NetReceiveMode.Mergeable)
            {
                // §5.1.6.4.1: num_buffers counts this buffer too; it cannot be 0, nor more than the buffers we posted.
                expected = h.NumBuffers;
                if (expected == 0 || expected > q.BufferCount)
                {
                    return Fail(q, NetDriverFault.BadBufferCount);
                }
            }

            q.PendingHeader = h;
            q.PendingExpected = expected;
            q.PendingBuffers[0] = buffer;
            q.PendingLengths[0] = used.WrittenLength;
            q.PendingCount = 1;
        }

        while (q.PendingCount < q.PendingExpected)
        {
            switch (q.Queue.TryReclaimUsed(out UsedBuffer used))
            {
                case PopStatus.Empty:
                    // The rest is not visible yet; but if nothing else is outstanding it never will be.
                    return q.Queue.Outstanding == 0 ? Fail(q, NetDriverFault.BadBufferCount) : NetDriverStatus.Empty;
                case PopStatus.Broken:
                    q.CheckBroken();
                    return NetDriverStatus.Faulted;
            }

            q.PendingBuffers[q.PendingCount] = (int)used.Token;
            q.PendingLengths[q.PendingCount] = used.WrittenLength;
            q.PendingCount++;
        }

        return NetDriverStatus.Ok;
    }

    private static NetDriverStatus Fail(NetDriverReceiveQueue q, NetDriverFault fault)
    {
        q.Fault = fault;
        q.Errors++;
        return NetDriverStatus.Faulted;
    }

    /// <summary>
    /// Posts the finished frame's buffers again; they are published (one index store, one kick
    /// decision) in groups of <see cref="NetDriverReceiveQueue.PublishThreshold"/>, and always when the
    /// queue runs empty or a batch ends, so the device never waits on buffers the caller forgot.
    /// </summary>
    private static void Repost(NetDriverReceiveQueue q)
    {
        for (int i = 0; i < q.PendingCount; i++)
        {
            q.Post(q.PendingBuffers[i]);
        }

        q.Unpublished += q.PendingCount;
        q.PendingCount = 0;
        q.PendingExpected = 0;
        if (q.Unpublished >= q.PublishThreshold)
        {
            q.PublishReposted();
        }
    }

    /// <summary>Posts every receive buffer (at bind time).</summary>
    private static void Refill(NetDriverReceiveQueue q)
    {
        for (int b = 0; b < q.BufferCount; b++)
        {
            if (!q.Post(b))
            {
                break;
            }
        }

        q.PublishAndKick();
    }

    private NetDriverReceiveQueue GetReceive(int pair)
    {
        NetDriverReceiveQueue[] rx = _rx;
        if ((uint)pair >= (uint)rx.Length)
        {
            ThrowPair(pair);
        }

        return rx[pair];
    }
}
