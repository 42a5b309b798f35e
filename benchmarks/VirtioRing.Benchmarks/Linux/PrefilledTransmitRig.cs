using System;
using System.Buffers.Binary;
using System.Threading;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Engine;
using VirtioRing.Queues;

namespace VirtioRing.Benchmarks.Linux;

/// <summary>
/// Guest → backend transmit with the guest's cost taken out: a <see cref="NetDevice"/> in
/// <see cref="NetWorkerMode.Manual"/> on a backend (the TAP), and on the guest side only the bare driver queues
/// re-posting transmit chains whose header and frame were written into guest memory once, at setup — as a guest
/// whose stack already built its packets would. Per round and pair: add <see cref="Batch"/> chains, publish, one
/// <see cref="NetQueuePair.Poll"/> (the device pops, validates each virtio-net header, hands the frame to the
/// backend — for the TAP one <c>writev</c> from guest memory — pushes, publishes), reclaim. This is the work
/// DPDK's <c>txonly</c> forwarding does per packet (take an mbuf, stamp a header template, hand it to the PMD).
/// </summary>
/// <remarks>
/// Frames: 64 and 1500 bytes are IPv4/UDP (as testpmd's txonly; one flow per pair) in one descriptor with the 12-byte header in front;
/// 65536 is an IPv4/TCP super-frame with <c>NEEDS_CSUM</c> + <c>GSO_TCPV4</c> (gso_size 1448, <c>HOST_TSO4</c>
/// negotiated) spread over 4 KiB descriptors (17 per chain, as a guest's page fragments). The destination MAC
/// (02:00:00:00:00:00, testpmd's default peer) is not the TAP's: the kernel drops each frame at <c>ip_rcv</c>
/// (PACKET_OTHERHOST) right after the TAP.
/// </remarks>
internal sealed unsafe class PrefilledTransmitRig : IDisposable
{
    /// <summary>The destination MAC of every frame (testpmd's default <c>eth-peer</c>).</summary>
    public static readonly MacAddress Destination = MacAddress.Parse("02:00:00:00:00:00");

    private const ulong RegionStart = 0x10_0000;
    private const int QueueSize = 256;
    private const int PageSize = 4096;
    private readonly GuestMemory _memory;
    private readonly IDriverQueue[] _tx;
    private readonly BufferSegment[][][] _chains;   // [pair][slot] → segments

    public PrefilledTransmitRig(INetBackend backend, int queues, int frameLength)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Queues = queues;
        FrameLength = frameLength;
        bool tso = frameLength > 1514;
        Batch = tso ? 8 : 32;

        NetFeatures wanted = NetFeatures.Version1 | NetFeatures.Csum | NetFeatures.HostTso4 | NetFeatures.EventIdx | NetFeatures.MrgRxBuf;
        if (queues > 1)
        {
            wanted |= NetFeatures.Mq | NetFeatures.CtrlVq;
        }

        Device = new NetDevice(new NetDeviceOptions
        {
            Mac = MacAddress.Parse("52:54:00:00:00:02"),
            MaxQueuePairs = queues,
            Backend = backend,
            WorkerMode = NetWorkerMode.Manual,
            BatchSize = Batch,
            Name = "bench-tx",
        });

        try
        {
            NetFeatures accepted = Device.OfferedFeatures & wanted;
            if (tso && (accepted & NetFeatures.HostTso4) == 0)
            {
                throw new InvalidOperationException($"the device does not offer HOST_TSO4 on this backend (offloads {backend.Offloads})");
            }

            NetFeatureCheck check = Device.SetDriverFeatures(accepted);
            if (!check.IsValid)
            {
                throw new InvalidOperationException($"features refused: {check}");
            }

            Negotiated = accepted;
            NetHeaderLayout layout = NetHeaderLayout.For(accepted);
            ulong ringBytes = Align(NetDriverRings.GetRequiredBytes(queues, QueueSize, accepted), PageSize);
            ulong stride = Align((ulong)(layout.Size + frameLength), PageSize);
            ulong bufferBytes = stride * (ulong)(queues * Batch);
            _memory = GuestMemory.Allocate(new GuestAddress(RegionStart), ringBytes + bufferBytes);
            NetDriverRings rings = NetDriverRings.Create(_memory, new GuestAddress(RegionStart), ringBytes, queues, QueueSize, accepted);
            for (int i = 0; i < rings.Count; i++)
            {
                Device.SetQueue(i, rings[i].CreateDeviceQueue(_memory), NoCall.Instance);
            }

            Device.Start();
            if (queues > 1)
            {
                Device.SetActivePairs(queues);
            }

            if (Device.ActivePairs != queues)
            {
                throw new InvalidOperationException($"{Device.ActivePairs} active pairs, wanted {queues}");
            }

            _tx = new IDriverQueue[queues];
            _chains = new BufferSegment[queues][][];
            VirtioNetHeader header = tso
                ? new VirtioNetHeader
                {
                    Flags = NetHeaderFlags.NeedsChecksum,
                    GsoType = NetGsoType.TcpV4,
                    HeaderLength = 54,
                    GsoSize = 1448,
                    ChecksumStart = 34,
                    ChecksumOffset = 16,
                }
                : default;
            ulong next = RegionStart + ringBytes;
            for (int p = 0; p < queues; p++)
            {
                // One flow per pair (source port 9 + pair), as a guest spreading its flows over its queues: a flow
                // sent on two queues at once would make the engine's and the TAP's flow tables bounce between cores.
                byte[] frame = MakeFrame(frameLength, tso, (ushort)(9 + p));
                _tx[p] = rings[(2 * p) + 1].Driver;
                _tx[p].DisableUsedNotifications();
                _chains[p] = new BufferSegment[Batch][];
                for (int s = 0; s < Batch; s++)
                {
                    Span<byte> buffer = _memory.GetSpan(new GuestAddress(next), (ulong)(layout.Size + frameLength));
                    header.Write(buffer, layout);
                    frame.CopyTo(buffer.Slice(layout.Size));
                    _chains[p][s] = Segments(next, layout.Size + frameLength);
                    next += stride;
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public NetDevice Device { get; }

    public NetFeatures Negotiated { get; }

    public int Queues { get; }

    public int FrameLength { get; }

    /// <summary>Gets the chains per pair and round (one publish, one poll).</summary>
    public int Batch { get; }

    /// <summary>Sends <paramref name="rounds"/> × <see cref="Batch"/> frames on <paramref name="pair"/>; call from one thread per pair.</summary>
    /// <param name="pair">The queue pair.</param>
    /// <param name="rounds">The rounds.</param>
    /// <returns>Frames sent (reclaimed).</returns>
    public int Run(int pair, int rounds)
    {
        int sent = 0;
        for (int r = 0; r < rounds; r++)
        {
            sent += Round(pair);
        }

        return sent;
    }

    /// <summary>
    /// Sends rounds on <paramref name="pair"/> while the shared budget lasts: each round first takes
    /// <see cref="Batch"/> frames from <paramref name="budget"/> (atomically), so threads on several pairs share one
    /// fixed amount of work and a thread that is pre-empted leaves its share to the others (as a guest whose flows are
    /// spread over queues keeps sending on the vCPUs that run).
    /// </summary>
    /// <param name="pair">The queue pair (one thread per pair).</param>
    /// <param name="budget">The frames left for all pairs.</param>
    /// <returns>Frames this call sent.</returns>
    public int RunShared(int pair, ref int budget)
    {
        int sent = 0;
        while (Interlocked.Add(ref budget, -Batch) >= 0)
        {
            sent += Round(pair);
        }

        return sent;
    }

    /// <summary>One round on a pair: add <see cref="Batch"/> prefilled chains, publish, poll the device, reclaim them all.</summary>
    private int Round(int pair)
    {
        IDriverQueue q = _tx[pair];
        BufferSegment[][] chains = _chains[pair];
        NetQueuePair device = Device.GetPair(pair);
        for (int s = 0; s < chains.Length; s++)
        {
            if (!q.TryAddChain(chains[s], (ulong)s))
            {
                throw new InvalidOperationException($"pair {pair}: no room for chain {s} (outstanding {q.Outstanding})");
            }
        }

        q.PublishAvailable();
        int reclaimed = 0;
        for (int attempt = 0; reclaimed < chains.Length; attempt++)
        {
            device.Poll(chains.Length);
            while (q.TryReclaimUsed(out UsedBuffer _) == PopStatus.Popped)
            {
                reclaimed++;
            }

            // Bounded: the TAP never answers busy without a send-buffer limit; a broken queue completes nothing.
            if (attempt == 10_000)
            {
                throw new InvalidOperationException($"pair {pair}: the device completed {reclaimed} of {chains.Length} chains (backend busy or queue broken: {q.Fault})");
            }
        }

        return reclaimed;
    }

    public void Dispose()
    {
        Device.Dispose();
        _memory?.Dispose();
    }

    private static ulong Align(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);

    /// <summary>The chain over one buffer: one descriptor when it fits in a page, else 4 KiB descriptors (a guest's page fragments).</summary>
    private static BufferSegment[] Segments(ulong address, int length)
    {
        int count = (length + PageSize - 1) / PageSize;
        var segments = new BufferSegment[count];
        for (int i = 0; i < count; i++)
        {
            int piece = Math.Min(PageSize, length - (i * PageSize));
            segments[i] = BufferSegment.Readable(new GuestAddress(address + (ulong)(i * PageSize)), (uint)piece);
        }

        return segments;
    }

    /// <summary>IPv4/UDP (as testpmd's txonly: 198.18.0.1:9 → 198.18.0.2:9) or, for TSO, IPv4/TCP with the pseudo-header checksum in place.</summary>
    private static byte[] MakeFrame(int length, bool tcp, ushort sourcePort)
    {
        byte[] f = new byte[length];
        for (int i = 0; i < f.Length; i++)
        {
            f[i] = (byte)(i * 7);
        }

        Destination.WriteTo(f);
        MacAddress.Parse("52:54:00:00:00:02").WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(14, 20);
        ip.Clear();
        int ipLength = Math.Min(length - 14, 65535);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)ipLength);
        ip[8] = 64;
        ip[9] = tcp ? (byte)6 : (byte)17;
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(12), 0xc6120001);   // 198.18.0.1
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(16), 0xc6120002);   // 198.18.0.2
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(10), (ushort)~Fold(Sum(ip, 0)));
        Span<byte> l4 = f.AsSpan(34);
        int l4Length = ipLength - 20;
        BinaryPrimitives.WriteUInt16BigEndian(l4, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(2), 9);
        if (tcp)
        {
            l4.Slice(4, 16).Clear();
            l4[12] = 0x50;
            l4[13] = 0x18;   // PSH ACK
            BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(14), 0xffff);
            uint pseudo = Sum(ip.Slice(12, 8), 6u + (uint)l4Length);
            BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(16), Fold(pseudo));   // CHECKSUM_PARTIAL: pseudo-header sum, not inverted
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(4), (ushort)l4Length);
            BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(6), 0);
        }

        return f;
    }

    private static uint Sum(ReadOnlySpan<byte> data, uint sum)
    {
        for (int i = 0; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i));
        }

        return sum;
    }

    private static ushort Fold(uint sum)
    {
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)sum;
    }

    /// <summary>The guest's interrupts are not used: the benchmark thread reclaims by polling.</summary>
    private sealed class NoCall : INotifier
    {
        public static readonly NoCall Instance = new();

        public void Notify()
        {
        }
    }
}
