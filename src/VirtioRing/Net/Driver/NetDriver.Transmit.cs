using System;
using System.Runtime.CompilerServices;
using VirtioRing.Memory;
using VirtioRing.Queues;

namespace VirtioRing.Net.Driver;

public sealed unsafe partial class NetDriver
{
    /// <summary>Picks the transmit pair for a frame with the configured <see cref="Multiqueue.ITxQueueSelector"/> over the <see cref="ActivePairs"/>.</summary>
    /// <param name="frame">The Ethernet frame.</param>
    /// <returns>The pair index.</returns>
    public int SelectPair(ReadOnlySpan<byte> frame) =>
        _activePairs == 1 ? 0 : _selector.SelectTransmitQueue(frame, (ushort)_activePairs);

    /// <summary>Sends a frame on the pair the transmit selector picks (see <see cref="Send"/>).</summary>
    /// <param name="frame">The Ethernet frame, without the virtio-net header.</param>
    /// <param name="header">Its offload requests (checksum, GSO); <see cref="VirtioNetHeader.NumBuffers"/> is ignored.</param>
    /// <returns><see langword="false"/> when the queue is full (or faulted); nothing was sent.</returns>
    /// <exception cref="ArgumentException">The frame is empty or needs more buffers than the queue has, or the header asks for an offload that was not negotiated.</exception>
    /// <exception cref="InvalidOperationException">The driver is not bound.</exception>
    public bool TrySend(ReadOnlySpan<byte> frame, in VirtioNetHeader header) => Send(SelectPair(frame), frame, header) == NetDriverStatus.Ok;

    /// <summary>Sends a frame on pair <paramref name="pair"/> (see <see cref="Send"/>).</summary>
    /// <param name="pair">The queue pair.</param>
    /// <param name="frame">The Ethernet frame, without the virtio-net header.</param>
    /// <param name="header">Its offload requests.</param>
    /// <returns><see langword="false"/> when the queue is full (or faulted); nothing was sent.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pair"/> is not a bound pair.</exception>
    /// <exception cref="ArgumentException">The frame is empty or too large, or the header is not valid for the negotiated features.</exception>
    /// <exception cref="InvalidOperationException">The driver is not bound.</exception>
    public bool TrySend(int pair, ReadOnlySpan<byte> frame, in VirtioNetHeader header) => Send(pair, frame, header) == NetDriverStatus.Ok;

    /// <summary>
    /// Copies a frame with its header into transmit buffers of pair <paramref name="pair"/>, makes it
    /// available to the device and kicks the device when its suppression settings ask for it. A frame
    /// longer than one buffer (a TSO/USO super-frame) takes a chain of several. Completed buffers are
    /// reclaimed first when too few are free.
    /// </summary>
    /// <param name="pair">The queue pair.</param>
    /// <param name="frame">The Ethernet frame, without the virtio-net header.</param>
    /// <param name="header">Its offload requests (§5.1.6.2); <see cref="VirtioNetHeader.NumBuffers"/> is sent as 0.</param>
    /// <returns><see cref="NetDriverStatus.Ok"/>, <see cref="NetDriverStatus.QueueFull"/> or <see cref="NetDriverStatus.Faulted"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pair"/> is not a bound pair.</exception>
    /// <exception cref="ArgumentException">The frame is empty or too large, or the header is not valid for the negotiated features.</exception>
    /// <exception cref="InvalidOperationException">The driver is not bound.</exception>
    public NetDriverStatus Send(int pair, ReadOnlySpan<byte> frame, in VirtioNetHeader header)
    {
        NetDriverStatus s = Enqueue(pair, frame, header);
        if (s == NetDriverStatus.Ok)
        {
            _tx[pair].PublishAndKick();
        }

        return s;
    }

    /// <summary>
    /// Adds a frame like <see cref="Send"/> but does not publish it: queue a batch, then
    /// <see cref="Flush"/> once (one index store, at most one kick).
    /// </summary>
    /// <param name="pair">The queue pair.</param>
    /// <param name="frame">The Ethernet frame.</param>
    /// <param name="header">Its offload requests.</param>
    /// <returns>As <see cref="Send"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pair"/> is not a bound pair.</exception>
    /// <exception cref="ArgumentException">The frame is empty or too large, or the header is not valid for the negotiated features.</exception>
    /// <exception cref="InvalidOperationException">The driver is not bound.</exception>
    public NetDriverStatus Enqueue(int pair, ReadOnlySpan<byte> frame, in VirtioNetHeader header)
    {
        NetDriverTransmitQueue q = GetTransmit(pair);
        if (q.Fault != NetDriverFault.None || q.CheckBroken())
        {
            return NetDriverStatus.Faulted;
        }

        if (frame.IsEmpty)
        {
            ThrowHelper.ThrowArgument(nameof(frame), "A frame has at least one byte.");
        }

        if ((header.Flags != 0 || header.GsoType != NetGsoType.None) &&
            header.ValidateTransmit(NegotiatedFeatures, frame.Length) != NetHeaderError.None)
        {
            ThrowHelper.ThrowArgument(nameof(header), "The header asks for an offload that was not negotiated or does not fit the frame.");
        }

        int hdr = HeaderLayout.Size;
        ulong total = (ulong)hdr + (ulong)frame.Length;
        ulong size = (ulong)q.BufferSize;
        int buffers = total <= size ? 1 : (int)((total + size - 1) / size);
        bool separate = _options.TransmitLayout == NetTransmitLayout.HeaderSeparate;
        int segments = buffers + (separate ? 1 : 0);
        if (buffers > q.BufferCount || segments > q.Segments.Length)
        {
            ThrowHelper.ThrowArgument(nameof(frame), "The frame needs more transmit buffers or descriptors than the queue has.");
        }

        if (q.FreeBuffers < buffers)
        {
            q.Reclaim();
            if (q.FreeBuffers < buffers)
            {
                return Full(q);
            }
        }

        int first = Fill(q, frame, header, buffers, separate);
        ReadOnlySpan<BufferSegment> chain = new(q.Segments, 0, segments);
        if (!q.Queue.TryAddChain(chain, (ulong)first))
        {
            q.Reclaim();
            if (q.CheckBroken() || !q.Queue.TryAddChain(chain, (ulong)first))
            {
                q.Release(first);
                return q.Fault != NetDriverFault.None ? NetDriverStatus.Faulted : Full(q);
            }
        }

        q.Packets++;
        q.Bytes += (ulong)frame.Length;
        return NetDriverStatus.Ok;
    }

    /// <summary>Publishes the frames added with <see cref="Enqueue"/> on pair <paramref name="pair"/> and kicks the device when needed.</summary>
    /// <param name="pair">The queue pair.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pair"/> is not a bound pair.</exception>
    /// <exception cref="InvalidOperationException">The driver is not bound.</exception>
    public void Flush(int pair)
    {
        NetDriverTransmitQueue q = GetTransmit(pair);
        if (!q.CheckBroken())
        {
            q.PublishAndKick();
        }
    }

    /// <summary>Reclaims every transmit buffer the device completed on pair <paramref name="pair"/> (sends do it themselves when they run short).</summary>
    /// <param name="pair">The queue pair.</param>
    /// <returns>The number of frames reclaimed.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pair"/> is not a bound pair.</exception>
    /// <exception cref="InvalidOperationException">The driver is not bound.</exception>
    public int ReclaimTransmitted(int pair)
    {
        NetDriverTransmitQueue q = GetTransmit(pair);
        return q.Fault != NetDriverFault.None ? 0 : q.Reclaim();
    }

    /// <summary>Gets the transmit frames of pair <paramref name="pair"/> still held by the device (added and not reclaimed).</summary>
    /// <param name="pair">The queue pair.</param>
    /// <returns>The count.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pair"/> is not a bound pair.</exception>
    /// <exception cref="InvalidOperationException">The driver is not bound.</exception>
    public int GetTransmitOutstanding(int pair) => GetTransmit(pair).Queue.Outstanding;

    private static NetDriverStatus Full(NetDriverTransmitQueue q)
    {
        q.Errors++;
        return NetDriverStatus.QueueFull;
    }

    /// <summary>Copies header and frame into <paramref name="buffers"/> free slots and describes them in the queue's segment array.</summary>
    /// <returns>The first slot (the chain's token).</returns>
    private int Fill(NetDriverTransmitQueue q, ReadOnlySpan<byte> frame, in VirtioNetHeader header, int buffers, bool separate)
    {
        int size = q.BufferSize;
        int hdr = HeaderLayout.Size;
        int first = q.Take();
        byte* p = q.Host + ((long)first * size);
        var h = header;
        h.NumBuffers = 0;
        h.Write(new Span<byte>(p, hdr), HeaderLayout);
        int n = Math.Min(frame.Length, size - hdr);
        frame.Slice(0, n).CopyTo(new Span<byte>(p + hdr, n));
        ulong gpa = q.Guest + ((ulong)first * (ulong)size);
        int seg = 0;
        if (separate)
        {
            q.Segments[seg++] = BufferSegment.Readable(new GuestAddress(gpa), (uint)hdr);
            q.Segments[seg++] = BufferSegment.Readable(new GuestAddress(gpa + (ulong)hdr), (uint)n);
        }
        else
        {
            q.Segments[seg++] = BufferSegment.Readable(new GuestAddress(gpa), (uint)(hdr + n));
        }

        int done = n;
        int prev = first;
        for (int b = 1; b < buffers; b++)
        {
            int slot = q.Take();
            q.Link(prev, slot);
            prev = slot;
            n = Math.Min(frame.Length - done, size);
            frame.Slice(done, n).CopyTo(new Span<byte>(q.Host + ((long)slot * size), n));
            q.Segments[seg++] = BufferSegment.Readable(new GuestAddress(q.Guest + ((ulong)slot * (ulong)size)), (uint)n);
            done += n;
        }

        return first;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private NetDriverTransmitQueue GetTransmit(int pair)
    {
        NetDriverTransmitQueue[] tx = _tx;
        if ((uint)pair >= (uint)tx.Length)
        {
            ThrowPair(pair);
        }

        return tx[pair];
    }

    private void ThrowPair(int pair)
    {
        RequireBound();
        ThrowHelper.ThrowArgumentOutOfRange(nameof(pair), "Not a bound queue pair.");
    }
}
