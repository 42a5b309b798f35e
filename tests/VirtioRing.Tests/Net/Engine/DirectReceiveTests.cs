using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Engine;
using VirtioRing.Net.InProcess;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Net.Engine;

/// <summary>
/// Receive in place (<see cref="INetDirectReceiveHost.ReceiveDirect"/>): a source writes header and frame straight into the
/// guest's buffers, the device completes the header (num_buffers, flags) and pushes only the buffers used; frames it
/// cannot pass as written take the copy path; bad lengths are dropped and counted with the buffers kept. Also the
/// backend-fault contract (<see cref="INetBackendHost.ReportFault"/>).
/// </summary>
public sealed class DirectReceiveTests
{
    private static readonly MacAddress GuestMac = MacAddress.Parse("52:54:00:00:00:01");

    [Theory]
    [InlineData(false, true, 60)]
    [InlineData(false, true, 1514)]
    [InlineData(false, true, 9000)]
    [InlineData(true, true, 60)]
    [InlineData(true, true, 9000)]
    [InlineData(false, false, 60)]
    [InlineData(true, false, 1514)]
    public void ReceiveDirect_Frame_ArrivesByteForByteWithOneCompletedHeader(bool packed, bool mergeable, int length)
    {
        NetFeatures features = NetDriverOptions.DefaultFeatures;
        if (!mergeable)
        {
            features &= ~NetFeatures.MrgRxBuf;
        }

        var backend = new DirectSource(1);
        using InProcessGuest guest = Guest(backend, packed, features);
        byte[] frame = Frame(length, seed: length);
        backend.Enqueue(0, default, frame);

        Assert.Equal(1, guest.Device.GetPair(0).Poll(64) >= 1 ? 1 : 0);
        var buffer = new byte[70000];
        Assert.True(guest.Driver.TryReceive(0, buffer, out VirtioNetHeader header, out int got));
        Assert.Equal(length, got);
        Assert.True(frame.AsSpan().SequenceEqual(buffer.AsSpan(0, got)));
        Assert.Equal(NetGsoType.None, header.GsoType);
        Assert.Equal(NetHeaderFlags.None, header.Flags);
        Assert.Equal(1, guest.Device.GetCounters(0).Packets);
        Assert.Equal(length, guest.Device.GetCounters(0).Bytes);
        Assert.True(backend.LastCapacity >= 20 + length, "the source was lent room for the whole frame");
    }

    [Fact]
    public void ReceiveDirect_ManyFrames_UseOnlyTheBuffersTheyNeed_AndAllArriveInOrder()
    {
        var backend = new DirectSource(1);
        using InProcessGuest guest = Guest(backend, packed: false, NetDriverOptions.DefaultFeatures);
        var frames = new List<byte[]>();
        for (int i = 0; i < 300; i++)
        {
            byte[] f = Frame(60 + (i * 97 % 4000), seed: i);
            frames.Add(f);
            backend.Enqueue(0, default, f);
        }

        var buffer = new byte[70000];
        int received = 0;
        for (int round = 0; round < 200 && received < frames.Count; round++)
        {
            guest.Device.GetPair(0).Poll(32);
            while (guest.Driver.TryReceive(0, buffer, out _, out int got))
            {
                Assert.True(frames[received].AsSpan().SequenceEqual(buffer.AsSpan(0, got)), "frame " + received);
                received++;
            }
        }

        Assert.Equal(frames.Count, received);
        Assert.Equal(0, guest.Device.GetCounters(0).TotalDrops);
    }

    [Fact]
    public void ReceiveDirect_TsoFrame_ToTsoGuest_PassesWhole_ToPlainGuest_IsSegmentedOnTheCopyPath()
    {
        byte[] super = TcpSuperFrame(GuestMac, 20000, out VirtioNetHeader gso);

        var tsoBackend = new DirectSource(1);
        using (InProcessGuest tso = Guest(tsoBackend, packed: false, NetDriverOptions.DefaultFeatures))
        {
            tsoBackend.Enqueue(0, gso, super);
            tso.Device.GetPair(0).Poll(64);
            var buffer = new byte[70000];
            Assert.True(tso.Driver.TryReceive(0, buffer, out VirtioNetHeader h, out int got));
            Assert.True(super.AsSpan().SequenceEqual(buffer.AsSpan(0, got)));
            Assert.Equal(NetGsoType.TcpV4, h.GsoType);
            Assert.Equal(gso.GsoSize, h.GsoSize);
        }

        // A guest without receive GSO is lent room for an MTU-sized frame (the TAP's offloads follow the guest, so the
        // kernel segments for it). A GSO frame that fits is segmented on the copy path; one that does not is cut by
        // the source, dropped and counted — never written past the lent buffers.
        var plainBackend = new DirectSource(1) { Cut = true };
        NetFeatures plain = NetDriverOptions.DefaultFeatures & ~(NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.GuestUso4 | NetFeatures.GuestUso6 | NetFeatures.GuestEcn | NetFeatures.GuestUfo);
        using (InProcessGuest guest = Guest(plainBackend, packed: false, plain))
        {
            byte[] small = TcpSuperFrame(GuestMac, 1200, out VirtioNetHeader smallGso);
            smallGso.GsoSize = 500;
            plainBackend.Enqueue(0, smallGso, small);
            plainBackend.Enqueue(0, gso, super);
            guest.Device.GetPair(0).Poll(64);
            var buffer = new byte[70000];
            int segments = 0;
            int payload = 0;
            while (guest.Driver.TryReceive(0, buffer, out VirtioNetHeader h, out int got))
            {
                Assert.Equal(NetGsoType.None, h.GsoType);
                Assert.True(got <= 14 + 40 + 500);
                payload += got - 54;
                segments++;
            }

            Assert.Equal(1200, payload);
            Assert.Equal(3, segments);
            Assert.Equal(1, guest.Device.GetCounters(0).BadFrame);
            Assert.True(plainBackend.LastCapacity <= 20 + 1518);
        }
    }

    [Fact]
    public void ReceiveDirect_FilteredFrame_IsCountedAndItsBuffersServeTheNextFrame()
    {
        var backend = new DirectSource(1);
        using InProcessGuest guest = Guest(backend, packed: false, NetDriverOptions.DefaultFeatures);
        Assert.Equal(VirtioRing.Net.Control.ControlAck.Ok, guest.Driver.SetRxMode(VirtioRing.Net.Control.NetRxMode.Promiscuous, false));
        byte[] foreign = Frame(100, seed: 1);
        MacAddress.Parse("52:54:00:99:99:99").WriteTo(foreign);
        byte[] mine = Frame(100, seed: 2);
        backend.Enqueue(0, default, foreign);
        backend.Enqueue(0, default, mine);
        guest.Device.GetPair(0).Poll(64);

        var buffer = new byte[2048];
        Assert.True(guest.Driver.TryReceive(0, buffer, out _, out int got));
        Assert.True(mine.AsSpan().SequenceEqual(buffer.AsSpan(0, got)));
        Assert.False(guest.Driver.TryReceive(0, buffer, out _, out _));
        Assert.Equal(1, guest.Device.GetCounters(0).Filtered);
    }

    [Theory]
    [InlineData(5)]        // shorter than a header
    [InlineData(20 + 10)]  // a header but no Ethernet header
    public void ReceiveDirect_RuntFrame_IsDroppedAndCounted(int written)
    {
        var backend = new DirectSource(1);
        using InProcessGuest guest = Guest(backend, packed: false, NetDriverOptions.DefaultFeatures);
        backend.EnqueueRaw(0, new byte[written]);
        backend.Enqueue(0, default, Frame(80, seed: 3));
        guest.Device.GetPair(0).Poll(64);
        var buffer = new byte[2048];
        Assert.True(guest.Driver.TryReceive(0, buffer, out _, out int got));
        Assert.Equal(80, got);
        Assert.False(guest.Driver.TryReceive(0, buffer, out _, out _));
        Assert.Equal(1, guest.Device.GetCounters(0).BadFrame);
    }

    [Fact]
    public void ReceiveDirect_SourceReportsMoreThanTheBuffers_FrameIsDroppedAndCounted()
    {
        var backend = new DirectSource(1) { Cut = true };
        NetFeatures small = NetDriverOptions.DefaultFeatures & ~(NetFeatures.MrgRxBuf | NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.GuestUso4 | NetFeatures.GuestUso6 | NetFeatures.GuestEcn | NetFeatures.GuestUfo);
        using InProcessGuest guest = Guest(backend, packed: false, small);
        backend.Enqueue(0, default, Frame(4000, seed: 4));   // longer than any small buffer
        backend.Enqueue(0, default, Frame(1000, seed: 5));
        guest.Device.GetPair(0).Poll(64);
        var buffer = new byte[4096];
        Assert.True(guest.Driver.TryReceive(0, buffer, out _, out int got));
        Assert.Equal(1000, got);
        Assert.Equal(1, guest.Device.GetCounters(0).BadFrame);
        Assert.True(backend.LastCapacity < 4000 + 12);
    }

    [Fact]
    public void ReceiveDirect_NeedsCsumToGuestWithoutGuestCsum_IsCompletedOnTheCopyPath()
    {
        var backend = new DirectSource(1);
        NetFeatures noCsum = NetDriverOptions.DefaultFeatures & ~(NetFeatures.GuestCsum | NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.GuestUso4 | NetFeatures.GuestUso6 | NetFeatures.GuestEcn | NetFeatures.GuestUfo);
        using InProcessGuest guest = Guest(backend, packed: false, noCsum);
        byte[] udp = UdpFrame(GuestMac, 200, out VirtioNetHeader partial);
        backend.Enqueue(0, partial, udp);
        guest.Device.GetPair(0).Poll(64);
        var buffer = new byte[2048];
        Assert.True(guest.Driver.TryReceive(0, buffer, out VirtioNetHeader h, out int got));
        Assert.Equal(NetHeaderFlags.None, h.Flags);
        Assert.Equal(udp.Length, got);
        Assert.Equal(0, VirtioRing.Net.Offload.InternetChecksum.Compute(PseudoAndUdp(buffer.AsSpan(0, got))));
    }

    [Fact]
    public void ReceiveDirect_NoBuffers_ReportsTheQueueAndKeepsTheFrameAtTheSource()
    {
        var backend = new DirectSource(1);
        using InProcessGuest guest = Guest(backend, packed: false, NetDriverOptions.DefaultFeatures, queueSize: 8);
        for (int i = 0; i < 40; i++)
        {
            backend.Enqueue(0, default, Frame(1400, seed: i));
        }

        guest.Device.GetPair(0).Poll(64);
        Assert.Equal(NetDirectReceiveStatus.NoBuffers, backend.LastStatus);
        Assert.True(backend.Pending(0) > 0);
        var buffer = new byte[2048];
        int received = 0;
        for (int round = 0; round < 100 && received < 40; round++)
        {
            while (guest.Driver.TryReceive(0, buffer, out _, out _))
            {
                received++;
            }

            guest.Device.GetPair(0).Poll(64);
        }

        Assert.Equal(40, received);
        Assert.Equal(0, guest.Device.GetCounters(0).TotalDrops);
    }

    [Fact]
    public void ReportFault_StopsReceiveOnThatQueue_DropsAndCountsTransmit_RaisesTheEventOnce()
    {
        var backend = new DirectSource(1);
        using InProcessGuest guest = Guest(backend, packed: false, NetDriverOptions.DefaultFeatures);
        using var raised = new ManualResetEventSlim();
        int events = 0;
        guest.Device.BackendFaulted += (_, e) =>
        {
            Assert.Equal(0, e.BackendQueue);
            Assert.Equal("tap gone", e.Error.Message);
            Interlocked.Increment(ref events);
            raised.Set();
        };

        backend.Host!.ReportFault(0, new InvalidOperationException("tap gone"));
        backend.Host.ReportFault(0, new InvalidOperationException("again"));
        Assert.True(raised.Wait(5000));
        Assert.Equal("tap gone", guest.Device.GetBackendFault(0)!.Message);

        backend.Enqueue(0, default, Frame(100, seed: 9));
        Assert.True(guest.Driver.TrySend(Frame(100, seed: 10), default));
        guest.Device.GetPair(0).Poll(64);
        Assert.Equal(1, backend.Pending(0));              // not asked to receive any more
        Assert.Equal(0, backend.Transmitted);             // not asked to send
        Assert.Equal(1, guest.Device.GetCounters(1).BackendDropped);
        Thread.Sleep(50);
        Assert.Equal(1, Volatile.Read(ref events));
    }

    [Fact]
    public void SetActivePairs_TellsAQueueAwareBackendHowManyQueuesAreInUse()
    {
        var backend = new DirectSource(4);
        using InProcessGuest guest = Guest(backend, packed: false, NetDriverOptions.DefaultFeatures, pairs: 4);
        Assert.Equal(1, backend.ActiveQueues);   // a driver starts on one pair
        Assert.Equal(VirtioRing.Net.Control.ControlAck.Ok, guest.Driver.SetQueuePairs(3));
        Assert.Equal(3, backend.ActiveQueues);
        guest.Device.SetActivePairs(2);
        Assert.Equal(2, backend.ActiveQueues);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReceiveDirect_GsoGuestWithFewerBuffersThanA64KiBFrame_StillReceives(bool packed)
    {
        // 16 mergeable buffers of 1536 bytes hold 24 KiB: never room for the longest GSO frame. Waiting for more
        // would wait for ever (the guest waits for used buffers); the frame is placed by its real size instead.
        var backend = new DirectSource(1);
        using InProcessGuest guest = Guest(backend, packed, NetDriverOptions.DefaultFeatures, queueSize: 16);
        var frames = new List<byte[]>();
        for (int i = 0; i < 50; i++)
        {
            byte[] f = Frame(100 + (i * 131 % 5000), seed: i);
            frames.Add(f);
            backend.Enqueue(0, default, f);
        }

        var buffer = new byte[70000];
        int received = 0;
        for (int round = 0; round < 200 && received < frames.Count; round++)
        {
            guest.Device.GetPair(0).Poll(8);
            while (guest.Driver.TryReceive(0, buffer, out _, out int got))
            {
                Assert.True(frames[received].AsSpan().SequenceEqual(buffer.AsSpan(0, got)), "frame " + received);
                received++;
            }
        }

        Assert.Equal(frames.Count, received);
        Assert.Equal(0, guest.Device.GetCounters(0).BadFrame);
    }

    [Fact]
    public void ReceiveDirect_CopyPathWithoutRoom_KeepsTheFrameUntilBuffersCome()
    {
        // NEEDS_CSUM to a guest without GUEST_CSUM takes the copy path; a full ring must hold the frame, not drop it.
        var backend = new DirectSource(1);
        NetFeatures noCsum = NetDriverOptions.DefaultFeatures & ~(NetFeatures.GuestCsum | NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.GuestUso4 | NetFeatures.GuestUso6 | NetFeatures.GuestEcn | NetFeatures.GuestUfo);
        using InProcessGuest guest = Guest(backend, packed: false, noCsum, queueSize: 8);
        for (int i = 0; i < 40; i++)
        {
            backend.Enqueue(0, UdpHeader(), UdpFrame(GuestMac, 1000, out _));
        }

        var buffer = new byte[2048];
        int received = 0;
        for (int round = 0; round < 200 && received < 40; round++)
        {
            guest.Device.GetPair(0).Poll(64);
            while (guest.Driver.TryReceive(0, buffer, out VirtioNetHeader h, out int got))
            {
                Assert.Equal(0, VirtioRing.Net.Offload.InternetChecksum.Compute(PseudoAndUdp(buffer.AsSpan(0, got))));
                received++;
            }
        }

        Assert.Equal(40, received);
        Assert.Equal(0, guest.Device.GetCounters(0).BadFrame);
    }

    [Fact]
    public void SetQueueEnabled_ReceiveQueueEnabledAgain_WakesThePairToReadWhatWaits()
    {
        var backend = new DirectSource(1);
        using InProcessGuest guest = InProcessGuest.Create(backend, new InProcessGuestOptions { Mac = GuestMac, WorkerMode = NetWorkerMode.Blocking });
        guest.Device.SetQueueEnabled(0, false);
        Thread.Sleep(50);   // the worker goes idle
        backend.Enqueue(0, default, Frame(200, seed: 1));   // the source raises no wake-up of its own, as a spent epoll edge
        int before = Volatile.Read(ref backend.Receives);
        guest.Device.SetQueueEnabled(0, true);
        var buffer = new byte[2048];
        var deadline = DateTime.UtcNow.AddSeconds(5);
        bool got = false;
        while (!got && DateTime.UtcNow < deadline)
        {
            got = guest.Driver.TryReceive(0, buffer, out _, out int n) && n == 200;
            if (!got)
            {
                guest.WaitForUsed(0, 50);
            }
        }

        Assert.True(got, "the frame waiting at the source was not read after the queue was enabled (receives before " + before + ", after " + Volatile.Read(ref backend.Receives) + ")");
    }

    [Fact]
    public void ReceiveDirect_SmallBufferChainTooShortForAHeader_IsGivenBackEmpty_AndFramesGoOn()
    {
        var backend = new DirectSource(1);
        NetFeatures small = EngineRig.Base & ~NetFeatures.MrgRxBuf;
        using var rig = new EngineRig(QueueKind.Split, accept: small, backend: backend);
        rig.Device.Start();
        rig.PostRx(0, 1, length: 8);       // can never hold a header and an Ethernet header
        rig.PostRx(0, 4, length: 2048);
        backend.Enqueue(0, default, Frame(300, seed: 2));
        rig.PollAll();
        IDriverQueue rx = rig.Rx(0);
        Assert.Equal(PopStatus.Popped, rx.TryReclaimUsed(out UsedBuffer first));
        Assert.Equal(0u, first.WrittenLength);
        Assert.Equal(PopStatus.Popped, rx.TryReclaimUsed(out UsedBuffer second));
        Assert.Equal((uint)(rig.Layout.Size + 300), second.WrittenLength);
        Assert.Equal(0, backend.Pending(0));
    }

    [Fact]
    public void ReceiveDirect_GsoGuestPostingHalfItsRing_BelowA64KiBFrame_StillReceives()
    {
        // A ring of 64 with 16 mergeable 1536-byte buffers posted (24 KiB, as a Linux guest that refills at half a
        // small ring): holding them all is not room for the longest GSO frame, yet waiting for more would wait for
        // ever — the guest waits for used buffers. The frames are placed by their real size.
        var backend = new DirectSource(1);
        using var rig = new EngineRig(QueueKind.Split, accept: EngineRig.Base | NetFeatures.GuestCsum | NetFeatures.GuestTso4, queueSize: 64, backend: backend);
        rig.Device.Start();
        rig.PostRx(0, 16, length: 1536);
        var frames = new List<byte[]>();
        for (int i = 0; i < 10; i++)
        {
            byte[] f = Frame(100 + (i * 131), seed: i);
            frames.Add(f);
            backend.Enqueue(0, default, f);
        }

        rig.PollAll();
        List<(VirtioNetHeader Header, byte[] Frame)> got = rig.ReceiveAll(0);
        Assert.Equal(frames.Count, got.Count);
        for (int i = 0; i < got.Count; i++)
        {
            Assert.True(frames[i].AsSpan().SequenceEqual(got[i].Frame), "frame " + i);
        }
    }

    [Fact]
    public void ReceiveDirect_SegmentedFrameWithoutRoomForAllSegments_IsKeptUntilBuffersCome()
    {
        // A GSO frame to a guest without receive GSO is segmented on the copy path; with room for only some of its
        // segments it must wait (the source has already let go of it), not be lost.
        var backend = new DirectSource(1);
        using var rig = new EngineRig(QueueKind.Split, accept: EngineRig.Base | NetFeatures.GuestCsum, queueSize: 64, backend: backend);
        rig.Device.Start();
        rig.PostRx(0, 2, length: 1536);
        byte[] frame = TcpSuperFrame(GuestMac, 1200, out VirtioNetHeader gso);
        gso.GsoSize = 500;   // three segments
        backend.Enqueue(0, gso, frame);
        rig.PollAll();
        Assert.Empty(rig.ReceiveAll(0));
        rig.PostRx(0, 4, length: 1536);
        rig.PollAll();
        List<(VirtioNetHeader Header, byte[] Frame)> got = rig.ReceiveAll(0);
        Assert.Equal(3, got.Count);
        int payload = 0;
        foreach ((VirtioNetHeader _, byte[] f) in got)
        {
            payload += f.Length - 54;
        }

        Assert.Equal(1200, payload);
    }

    private static VirtioNetHeader UdpHeader()
    {
        UdpFrame(GuestMac, 1000, out VirtioNetHeader h);
        return h;
    }

    private static InProcessGuest Guest(DirectSource backend, bool packed, NetFeatures features, int pairs = 1, int queueSize = 256) =>
        InProcessGuest.Create(backend, new InProcessGuestOptions
        {
            Mac = GuestMac,
            Packed = packed,
            DriverFeatures = features,
            WorkerMode = NetWorkerMode.Manual,
            QueuePairs = pairs,
            QueueSize = queueSize,
            MergeableBufferSize = 1536,
        });

    private static byte[] Frame(int length, int seed)
    {
        var f = new byte[length];
        new Random(seed).NextBytes(f);
        GuestMac.WriteTo(f);
        f[6] = 0x52;
        f[12] = 0x88;
        f[13] = 0xB5;
        return f;
    }

    private static byte[] UdpFrame(MacAddress to, int payload, out VirtioNetHeader header)
    {
        var f = new byte[14 + 20 + 8 + payload];
        to.WriteTo(f);
        f[6] = 0x52;
        f[12] = 0x08;
        f[14] = 0x45;
        int total = 20 + 8 + payload;
        f[16] = (byte)(total >> 8);
        f[17] = (byte)total;
        f[22] = 64;
        f[23] = 17;
        f[26] = 10; f[29] = 1; f[30] = 10; f[33] = 2;
        f[34] = 0x30; f[35] = 0x39; f[36] = 0x00; f[37] = 0x35;
        f[38] = (byte)((8 + payload) >> 8);
        f[39] = (byte)(8 + payload);
        new Random(7).NextBytes(f.AsSpan(42));
        ushort ip = VirtioRing.Net.Offload.InternetChecksum.Compute(f.AsSpan(14, 20));
        f[24] = (byte)(ip >> 8);
        f[25] = (byte)ip;

        // NEEDS_CSUM: the checksum field holds the folded pseudo-header sum, as a sender's stack leaves it.
        Span<byte> pseudo = stackalloc byte[12];
        f.AsSpan(26, 8).CopyTo(pseudo);
        pseudo[9] = 17;
        pseudo[10] = (byte)((8 + payload) >> 8);
        pseudo[11] = (byte)(8 + payload);
        ushort p = (ushort)~VirtioRing.Net.Offload.InternetChecksum.Compute(pseudo);
        f[40] = (byte)(p >> 8);
        f[41] = (byte)p;
        header = new VirtioNetHeader { Flags = NetHeaderFlags.NeedsChecksum, ChecksumStart = 34, ChecksumOffset = 6 };
        return f;
    }

    private static byte[] PseudoAndUdp(ReadOnlySpan<byte> frame)
    {
        int udpLength = frame.Length - 34;
        var b = new byte[12 + udpLength];
        frame.Slice(26, 8).CopyTo(b);
        b[9] = 17;
        b[10] = (byte)(udpLength >> 8);
        b[11] = (byte)udpLength;
        frame.Slice(34).CopyTo(b.AsSpan(12));
        return b;
    }

    private static byte[] TcpSuperFrame(MacAddress to, int payload, out VirtioNetHeader header)
    {
        var f = new byte[14 + 20 + 20 + payload];
        to.WriteTo(f);
        f[6] = 0x52;
        f[12] = 0x08;
        f[14] = 0x45;
        int total = 40 + payload;
        f[16] = (byte)(total >> 8);
        f[17] = (byte)total;
        f[22] = 64;
        f[23] = 6;
        f[26] = 10; f[29] = 1; f[30] = 10; f[33] = 2;
        f[34] = 0x30; f[35] = 0x39; f[36] = 0x00; f[37] = 0x50;
        f[46] = 0x50;   // data offset 5
        f[47] = 0x18;   // PSH ACK
        f[48] = 0xFF;
        new Random(11).NextBytes(f.AsSpan(54));
        header = new VirtioNetHeader
        {
            Flags = NetHeaderFlags.NeedsChecksum,
            GsoType = NetGsoType.TcpV4,
            GsoSize = 1448,
            HeaderLength = 54,
            ChecksumStart = 34,
            ChecksumOffset = 16,
        };
        return f;
    }

    /// <summary>A backend whose frames come from a script, read in place through <see cref="INetDirectReceiveHost"/> like a TAP.</summary>
    internal sealed class DirectSource(int queues) : INetBackend, INetBackendQueueAware
    {
        private readonly ConcurrentQueue<(VirtioNetHeader Header, byte[] Bytes, bool Raw)>[] _waiting = Init(queues);
        private Reader[]? _readers;

        public INetBackendHost? Host { get; private set; }

        public bool Cut { get; init; }

        public int Transmitted { get; private set; }

        public int LastCapacity { get; private set; }

        public int ActiveQueues { get; private set; }

        public NetDirectReceiveStatus LastStatus { get; private set; }

        public NetOffloads Offloads => NetOffloads.All;

        public int QueueCount => queues;

        public void Attach(INetBackendHost host)
        {
            Host = host;
            _readers = new Reader[queues];
            for (int i = 0; i < queues; i++)
            {
                _readers[i] = new Reader(this, i);
            }
        }

        public void Detach() => Host = null;

        public void SetActiveQueues(int count) => ActiveQueues = count;

        public void Enqueue(int queue, VirtioNetHeader header, byte[] frame) => _waiting[queue].Enqueue((header, frame, false));

        public void EnqueueRaw(int queue, byte[] raw) => _waiting[queue].Enqueue((default, raw, true));

        public int Pending(int queue) => _waiting[queue].Count;

        public int Receives;

        public NetTransmitStatus Transmit(int queue, in NetFrame frame)
        {
            Transmitted++;
            return NetTransmitStatus.Sent;
        }

        public void FlushTransmit(int queue)
        {
        }

        public int Receive(int queue, int budget)
        {
            Interlocked.Increment(ref Receives);
            var direct = (INetDirectReceiveHost)Host!;
            NetDirectReceiveResult r = direct.ReceiveDirect(queue, _readers![queue], budget);
            LastStatus = r.Status;
            return r.Frames;
        }

        private static ConcurrentQueue<(VirtioNetHeader, byte[], bool)>[] Init(int n)
        {
            var q = new ConcurrentQueue<(VirtioNetHeader, byte[], bool)>[n];
            for (int i = 0; i < n; i++)
            {
                q[i] = new ConcurrentQueue<(VirtioNetHeader, byte[], bool)>();
            }

            return q;
        }

        private sealed class Reader(DirectSource source, int queue) : INetDirectReader
        {
            public int Read(in NetReceiveBuffers buffers)
            {
                source.LastCapacity = buffers.Capacity;
                if (!source._waiting[queue].TryDequeue(out (VirtioNetHeader Header, byte[] Bytes, bool Raw) entry))
                {
                    return 0;
                }

                byte[] raw = entry.Bytes;
                if (!entry.Raw)
                {
                    NetHeaderLayout layout = buffers.HeaderSize switch
                    {
                        NetHeaderLayout.HashReportSize => NetHeaderLayout.ModernHashReport,
                        NetHeaderLayout.BasicSize => NetHeaderLayout.Modern,
                        _ => NetHeaderLayout.Legacy,
                    };
                    raw = new byte[layout.Size + entry.Bytes.Length];
                    entry.Header.Write(raw, layout);
                    entry.Bytes.CopyTo(raw, layout.Size);
                }

                if (raw.Length > buffers.Capacity && !source.Cut)
                {
                    throw new InvalidOperationException("the host lent " + buffers.Capacity + " bytes for a " + raw.Length + "-byte frame");
                }

                ReadOnlySpan<byte> left = raw;
                for (int i = 0; i < buffers.SegmentCount && !left.IsEmpty; i++)
                {
                    Span<byte> seg = buffers.GetSegment(i);
                    int n = Math.Min(seg.Length, left.Length);
                    left.Slice(0, n).CopyTo(seg);
                    left = left.Slice(n);
                }

                return raw.Length;   // as a source that had to cut reports the full length
            }
        }
    }
}
