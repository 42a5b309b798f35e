using System;
using System.Buffers.Binary;
using VirtioRing.Net;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Engine;
using VirtioRing.Net.InProcess;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Net.Switching;

namespace VirtioRing.Benchmarks.Net.InterGuest;

/// <summary>
/// Two in-process guests, A and B, on one <see cref="NetSwitch"/>: A's driver sends on each pair, A's device
/// forwards (the switch copies each frame once from A's transmit chain into B's receive buffers), B's driver
/// receives in place. B spreads flows over its pairs with RSS when it has more than one.
/// </summary>
internal sealed class InterGuestRig : IDisposable
{
    /// <summary>Frames per benchmark invocation (whatever the frame size and pair count).</summary>
    public const int FramesPerInvoke = 64;
    private static readonly byte[] RssKey =
    [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
        0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
        0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    private readonly byte[][] _frames;
    private readonly VirtioNetHeader _header;
    private CountingReceiver _receiver;

    public InterGuestRig(bool packed, int pairs, int frameLength, NetWorkerMode mode)
    {
        Pairs = pairs;
        FrameLength = frameLength;

        // 64 KiB frames take 17 receive buffers of 4 KiB each: 4 per pair and round keep B's 256 buffers enough.
        Batch = frameLength > 1514 ? 4 : 32;
        Rounds = FramesPerInvoke / (Batch * pairs);
        Switch = new NetSwitch();
        var macA = MacAddress.Parse("52:54:00:00:00:0a");
        var macB = MacAddress.Parse("52:54:00:00:00:0b");
        bool tso = frameLength > 1514;
        A = InProcessGuest.Create(Switch.AddGuestPort("a"), Options(macA, packed, pairs, mode, tso));
        B = InProcessGuest.Create(Switch.AddGuestPort("b"), Options(macB, packed, pairs, mode, tso));
        if (pairs > 1)
        {
            ushort[] table = new ushort[pairs];
            for (int i = 0; i < pairs; i++)
            {
                table[i] = (ushort)i;
            }

            var rss = new RssConfiguration(NetHashTypes.TcpV4, RssKey, table, 0);
            if (A.Driver.SetRss(rss, pairs) != VirtioRing.Net.Control.ControlAck.Ok || B.Driver.SetRss(rss, pairs) != VirtioRing.Net.Control.ControlAck.Ok)
            {
                throw new InvalidOperationException("RSS refused");
            }
        }

        // One TCP/IPv4 flow per frame slot (source ports differ), so RSS spreads them over B's pairs.
        _frames = new byte[32][];
        for (int i = 0; i < _frames.Length; i++)
        {
            _frames[i] = MakeFrame(macB, macA, frameLength, (ushort)(10000 + i));
        }

        if (tso)
        {
            // A 64 KiB TCP super-frame: B accepted GUEST_TSO4 and GUEST_CSUM, so it arrives as is (one copy).
            _header = new VirtioNetHeader
            {
                Flags = NetHeaderFlags.NeedsChecksum,
                GsoType = NetGsoType.TcpV4,
                HeaderLength = 54,
                GsoSize = 1448,
                ChecksumStart = 34,
                ChecksumOffset = 16,
            };
        }

        // Warm up the MAC table (B learns A and A learns B) so every frame is known unicast.
        RoundTrip();
        _receiver = default;
    }

    public NetSwitch Switch { get; }

    public InProcessGuest A { get; }

    public InProcessGuest B { get; }

    public int Pairs { get; }

    /// <summary>Gets the frames sent per pair and round (one publish, one poll, one receive batch).</summary>
    public int Batch { get; }

    /// <summary>Gets the rounds per invocation (<see cref="FramesPerInvoke"/> frames in all).</summary>
    public int Rounds { get; }

    public int FrameLength { get; }

    public long ReceivedBytes => _receiver.Bytes;

    /// <summary>Runs <see cref="Rounds"/> rounds (<see cref="FramesPerInvoke"/> frames).</summary>
    public int Run()
    {
        int n = 0;
        for (int r = 0; r < Rounds; r++)
        {
            n += RoundTrip();
        }

        return n;
    }

    /// <summary>
    /// One round on this thread: A enqueues <see cref="Batch"/> frames per pair and flushes; A's device polls each
    /// pair (pop, switch, copy into B, publish); B receives everything. Returns the frames received.
    /// </summary>
    public int RoundTrip()
    {
        NetDriver a = A.Driver;
        for (int p = 0; p < Pairs; p++)
        {
            for (int i = 0; i < Batch; i++)
            {
                a.Enqueue(p, _frames[i], _header);
            }

            a.Flush(p);
        }

        for (int p = 0; p < Pairs; p++)
        {
            A.Device.GetPair(p).Poll(Batch);
        }

        int received = 0;
        NetDriver b = B.Driver;
        for (int p = 0; p < Pairs; p++)
        {
            received += b.ReceiveBatch(p, ref _receiver);
        }

        if (received != Batch * Pairs)
        {
            throw new InvalidOperationException($"received {received} of {Batch * Pairs}");
        }

        return received;
    }

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
    }

    private static InProcessGuestOptions Options(MacAddress mac, bool packed, int pairs, NetWorkerMode mode, bool tso) => new()
    {
        Mac = mac,
        Packed = packed,
        QueuePairs = pairs,
        WorkerMode = mode,
        Name = "bench",

        // A 64 KiB super-frame takes 33 transmit buffers of 2 KiB; 256-slot queues hold 7 of them.
        QueueSize = 256,
        TxBufferSize = tso ? 16384 : 2048,
        MergeableBufferSize = tso ? 4096 : 2048,
    };

    private static byte[] MakeFrame(MacAddress destination, MacAddress source, int length, ushort sourcePort)
    {
        byte[] f = new byte[length];
        new Random(sourcePort).NextBytes(f);
        destination.WriteTo(f);
        source.WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(14);
        ip[0] = 0x45;
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)Math.Min(length - 14, 65535));
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(4), 0x4000);   // DF
        ip[8] = 64;
        ip[9] = 6;   // TCP
        ip[10] = ip[11] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(12), 0x0a000001);
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(16), 0x0a000002);
        Span<byte> tcp = ip.Slice(20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(2), 5201);
        tcp[12] = 0x50;
        tcp[13] = 0x10;   // ACK
        return f;
    }

    /// <summary>Counts frames and touches the first byte of each (the frame is in B's buffers).</summary>
    private struct CountingReceiver : INetFrameReceiver
    {
        public long Frames;
        public long Bytes;

        public void OnFrame(in VirtioNetHeader header, in NetReceivedFrame frame)
        {
            Frames++;
            Bytes += frame.Length + frame.GetBuffer(0)[0];
        }
    }
}
