using System;
using System.Threading;
using System.Buffers.Binary;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Net;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Packet;

/// <content>Receive: frames from the <c>TPACKET_V3</c> ring to the host where they lie.</content>
public sealed unsafe partial class PacketSocketBackend
{
    /// <summary>How many times one <see cref="Receive"/> retries a frame when the host says buffers appeared right after refusing it for want of buffers.</summary>
    private const int NoBufferRetries = 2;

    /// <inheritdoc/>
    /// <remarks>
    /// Delivers the ring's frames in order through <see cref="INetBackendHost.Deliver"/> (hint: this queue), each with
    /// the virtio-net header the kernel wrote before it (checksum state, GSO). A frame is consumed once the host
    /// answered anything but <see cref="NetDeliveryStatus.NoBuffers"/>; on that answer it stays first in line, the
    /// host is asked to wake the queue when the guest adds buffers, and the call returns. Truncated frames (longer than
    /// a block) and the filter's drops are consumed and counted. Never throws for an I/O failure: a queue whose
    /// interface is gone reports it once through <see cref="INetBackendHost.ReportFault"/> and returns 0.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> is not below <see cref="QueueCount"/>.</exception>
    public int Receive(int queue, int budget)
    {
        PacketQueue own = QueueAt(queue);
        if (Volatile.Read(ref _host) is null || Volatile.Read(ref _disposed) != 0)
        {
            return 0;
        }

        // Rings of queues the engine does not poll (fewer active pairs than queues, SetActiveQueues) are read by the
        // active queue they fold onto: ring r by queue r % active. The fanout group keeps hashing flows to every
        // socket, so nothing is stranded in a ring nobody reads.
        int active = Volatile.Read(ref _activeQueues);
        int done = ReceiveRing(own, budget);
        if (queue < active)
        {
            for (int r = queue + active; r < _queues.Length && done < budget; r += active)
            {
                done += ReceiveRing(_queues[r], budget - done);
            }
        }

        return done;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The packet sockets stay in the fanout group (a socket cannot leave one short of being closed); the rings of the
    /// queues from <paramref name="count"/> on are read by the queue each folds onto (<c>r % count</c>), and their
    /// readiness wakes that queue. Every active queue is woken, so each ring is looked at by its new reader.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is not 1 to <see cref="QueueCount"/>.</exception>
    public void SetActiveQueues(int count)
    {
        if (count < 1 || count > _queues.Length)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(count), $"The backend has {_queues.Length} queue(s).");
        }

        Volatile.Write(ref _activeQueues, count);
        INetBackendHost? host = Volatile.Read(ref _host);
        for (int q = 0; q < count && host is not null; q++)
        {
            host.Wake(q);
        }
    }

    /// <summary>Delivers up to <paramref name="budget"/> frames of one ring (under its gate: a ring has one reader at a time).</summary>
    private int ReceiveRing(PacketQueue q, int budget)
    {
        INetBackendHost? host = Volatile.Read(ref _host);
        if (host is null || budget <= 0)
        {
            return 0;
        }

        if (q.Fault is not null)
        {
            ReportFaultOnce(q);
            return 0;
        }

        if (!Monitor.TryEnter(q.ReceiveGate))
        {
            // Another queue reads this ring right now (the active count just changed): look again soon rather than
            // wait for an edge that may already have been consumed.
            WakeQueue(q.Index);
            return 0;
        }

        try
        {
            return ReceiveLocked(host, q, budget);
        }
        finally
        {
            Monitor.Exit(q.ReceiveGate);
        }
    }

    private int ReceiveLocked(INetBackendHost host, PacketQueue q, int budget)
    {
        IPacketSocketFilter? filter = _filter;
        int queue = q.Index;
        int done = 0;
        int retries = 0;
        while (done < budget)
        {
            tpacket3_hdr* h = q.Peek();
            if (h is null)
            {
                break;   // no retired block: the readiness thread wakes the queue at the next one
            }

            uint mac = h->tp_mac;
            uint snap = h->tp_snaplen;
            if (mac < (uint)(sizeof(tpacket3_hdr) + PacketLibC.VirtioNetHdrSize) || (ulong)q.FrameOffset + mac + snap > (ulong)q.BlockSize)
            {
                q.ReceiveMalformed++;
                q.Consume();
                done++;
                continue;
            }

            if (snap < h->tp_len)
            {
                q.ReceiveTruncated++;   // the kernel clamped it to the block: not the frame that was sent
                q.Consume();
                done++;
                continue;
            }

            byte* data = (byte*)h + mac;
            VirtioNetHeader header = VirtioNetHeader.Read(new ReadOnlySpan<byte>(data - PacketLibC.VirtioNetHdrSize, PacketLibC.VirtioNetHdrSize), NetHeaderLayout.Legacy);
            ReadOnlySpan<byte> bytes = new(data, (int)snap);
            if ((h->tp_status & PacketLibC.TP_STATUS_VLAN_VALID) != 0)
            {
                bytes = RestoreVlanTag(q, h, bytes, ref header);
            }

            NetFrame frame = NetFrame.FromSpan(header, bytes);
            if (filter is not null && filter.Inspect(frame, PacketDirection.Receive, queue) == PacketFilterVerdict.Drop)
            {
                q.ReceiveFiltered++;
                q.Consume();
                done++;
                continue;
            }

            // The hint is the ring's own queue; the host folds it onto its active pairs.
            NetDeliveryResult r = host.Deliver(queue, frame);
            switch (r.Status)
            {
                case NetDeliveryStatus.Delivered:
                    q.ReceivedFrames++;
                    q.ReceivedBytes += bytes.Length;
                    break;
                case NetDeliveryStatus.NoBuffers:
                    // Keep the frame; be woken when the guest posts buffers. When the host says they are already
                    // there, retry at once, a bounded number of times (then wake the queue rather than spin here).
                    q.ReceiveNoBuffers++;
                    if (host.WaitForReceiveBuffers(r.Queue, q.Waiter!))
                    {
                        if (++retries <= NoBufferRetries)
                        {
                            continue;
                        }

                        WakeQueue(queue);
                    }

                    return done;
                case NetDeliveryStatus.Filtered:
                    q.ReceiveHostFiltered++;
                    break;
                case NetDeliveryStatus.BadFrame:
                    q.ReceiveBadFrame++;
                    break;
                default:
                    q.ReceiveQueueDown++;
                    break;
            }

            q.Consume();
            done++;
        }

        return done;
    }

    /// <summary>
    /// Puts back the VLAN tag the kernel moved into the frame's metadata (<c>tp_vlan_tci</c>, <c>tp_vlan_tpid</c>):
    /// the frame is rebuilt in the queue's receive buffer with the 4-byte tag after the MAC addresses, and the
    /// header's offsets, which count from the untagged frame, move by 4.
    /// </summary>
    private static ReadOnlySpan<byte> RestoreVlanTag(PacketQueue q, tpacket3_hdr* h, ReadOnlySpan<byte> bytes, scoped ref VirtioNetHeader header)
    {
        if (bytes.Length < 12 || bytes.Length > MaxCopiedFrame)
        {
            return bytes;
        }

        byte[] copy = q.ReceiveCopy ??= new byte[MaxCopiedFrame + 4];
        ushort tpid = (h->tp_status & PacketLibC.TP_STATUS_VLAN_TPID_VALID) != 0 ? h->tp_vlan_tpid : (ushort)0x8100;
        bytes.Slice(0, 12).CopyTo(copy);
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(12), tpid);
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(14), (ushort)h->tp_vlan_tci);
        bytes.Slice(12).CopyTo(copy.AsSpan(16));
        if ((header.Flags & NetHeaderFlags.NeedsChecksum) != 0 && header.ChecksumStart <= ushort.MaxValue - 4)
        {
            header.ChecksumStart += 4;
        }

        if (header.GsoType != NetGsoType.None && header.HeaderLength is > 0 and <= ushort.MaxValue - 4)
        {
            header.HeaderLength += 4;
        }

        return copy.AsSpan(0, bytes.Length + 4);
    }
}
