using System;
using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Net.Rx;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Net.Core;

public class NetReceiveWriterTests
{
    public static TheoryData<QueueKind, VirtqueueFeatures> Rings => new()
    {
        { QueueKind.Split, VirtqueueFeatures.None },
        { QueueKind.Split, VirtqueueFeatures.InOrder | VirtqueueFeatures.EventIndex },
        { QueueKind.Split, VirtqueueFeatures.IndirectDescriptors },
        { QueueKind.Packed, VirtqueueFeatures.None },
        { QueueKind.Packed, VirtqueueFeatures.InOrder },
        { QueueKind.Packed, VirtqueueFeatures.IndirectDescriptors | VirtqueueFeatures.EventIndex },
    };

    private static byte[] Frame(int length, int seed = 1)
    {
        var f = new byte[length];
        new Random(seed).NextBytes(f);
        return f;
    }

    private static VirtioNetHeader RxHeader => new() { Flags = NetHeaderFlags.DataValid, HashValue = 0xDEADBEEF, HashReport = NetHashReport.TcpV4 };

    [Theory]
    [MemberData(nameof(Rings))]
    public void Deliver_MergeableFrameOverManyBuffers_DriverReassemblesIt(QueueKind kind, VirtqueueFeatures features)
    {
        using var rx = new RxHarness(kind, 32, features);
        rx.AddBuffers(16, 128);
        var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.ModernHashReport, NetReceiveMode.Mergeable);
        byte[] frame = Frame(1000);

        NetReceiveResult r = writer.Deliver(RxHeader, frame);

        Assert.Equal(NetReceiveStatus.Delivered, r.Status);
        Assert.Equal(8, r.Buffers);   // 1020 bytes over 128-byte buffers
        Assert.Equal(1020u, r.BytesWritten);
        Assert.Equal(8, rx.Device.PublishUsed());
        (VirtioNetHeader h, byte[] got, int[] lengths) = rx.ReclaimFrame(NetHeaderLayout.ModernHashReport, mergeable: true);
        Assert.Equal(8, h.NumBuffers);
        Assert.Equal(0xDEADBEEFu, h.HashValue);
        Assert.Equal(NetHashReport.TcpV4, h.HashReport);
        Assert.Equal(frame, got);
        Assert.Equal([128, 128, 128, 128, 128, 128, 128, 124], lengths);   // every buffer but the last full (§5.1.6.4)
        Assert.Equal(0, writer.HeldCount);
    }

    [Theory]
    [MemberData(nameof(Rings))]
    public void Deliver_ChainsOfSeveralSegments_ScatteredInOrder(QueueKind kind, VirtqueueFeatures features)
    {
        using var rx = new RxHarness(kind, 64, features);
        rx.AddBuffers(8, 5, 40, 1, 100);   // 146 bytes per chain, the header straddling segments
        var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.Modern, NetReceiveMode.Mergeable);
        byte[] frame = Frame(500, 7);

        Assert.Equal(NetReceiveStatus.Delivered, writer.Deliver(RxHeader, frame).Status);
        rx.Device.PublishUsed();
        (VirtioNetHeader h, byte[] got, _) = rx.ReclaimFrame(NetHeaderLayout.Modern, mergeable: true);
        Assert.Equal(4, h.NumBuffers);
        Assert.Equal(frame, got);
    }

    [Theory]
    [MemberData(nameof(Rings))]
    public void Deliver_NotEnoughBuffers_NoBuffersThenDeliveredWithHeldChainsFirst(QueueKind kind, VirtqueueFeatures features)
    {
        using var rx = new RxHarness(kind, 32, features);
        rx.AddBuffers(2, 128);
        var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.Modern, NetReceiveMode.Mergeable);
        byte[] frame = Frame(600, 3);

        Assert.Equal(NetReceiveStatus.NoBuffers, writer.Deliver(RxHeader, frame).Status);
        Assert.Equal(2, writer.HeldCount);
        Assert.True(rx.NothingUsed());

        rx.AddBuffers(4, 128);
        NetReceiveResult r = writer.Deliver(RxHeader, frame);
        Assert.Equal(NetReceiveStatus.Delivered, r.Status);
        Assert.Equal(5, r.Buffers);
        Assert.Equal(0, writer.HeldCount);   // only what the frame needed was popped
        rx.Device.PublishUsed();
        (_, byte[] got, _) = rx.ReclaimFrame(NetHeaderLayout.Modern, mergeable: true);
        Assert.Equal(frame, got);

        // The sixth buffer carries the next frame.
        byte[] small = Frame(60, 4);
        Assert.Equal(NetReceiveStatus.Delivered, writer.Deliver(RxHeader, small).Status);
        rx.Device.PublishUsed();
        Assert.Equal(small, rx.ReclaimFrame(NetHeaderLayout.Modern, mergeable: true).Frame);
    }

    [Theory]
    [InlineData(QueueKind.Split)]
    [InlineData(QueueKind.Packed)]
    public void Deliver_EveryRingDescriptorHeldAndStillShort_FrameTooLarge(QueueKind kind)
    {
        using var rx = new RxHarness(kind, 4, VirtqueueFeatures.None);
        rx.AddBuffers(4, 64);
        var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.Modern, NetReceiveMode.Mergeable);

        Assert.Equal(NetReceiveStatus.FrameTooLarge, writer.Deliver(RxHeader, Frame(1000)).Status);
        Assert.Equal(4, writer.HeldCount);
        Assert.True(rx.NothingUsed());
        Assert.Equal(NetReceiveStatus.Delivered, writer.Deliver(RxHeader, Frame(100)).Status);   // held chains still usable
        Assert.Equal(2, writer.HeldCount);
    }

    [Fact]
    public void Deliver_HeldCapacityReached_FrameTooLarge()
    {
        using var rx = new RxHarness(QueueKind.Split, 32, VirtqueueFeatures.None);
        rx.AddBuffers(32, 16);
        var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.Modern, NetReceiveMode.Mergeable, maxHeldChains: 8);
        Assert.Equal(NetReceiveStatus.FrameTooLarge, writer.Deliver(RxHeader, Frame(500)).Status);
        Assert.Equal(8, writer.HeldCount);
    }

    [Fact]
    public void Deliver_FrameOverModeLimit_FrameTooLargeAndNothingPopped()
    {
        using var rx = new RxHarness(QueueKind.Split, 16, VirtqueueFeatures.None, slotSize: 2048);
        rx.AddBuffers(2, 1526);
        var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.Modern, NetReceiveMode.SmallBuffers);
        Assert.Equal(NetReceiveWriter.SmallFrameLength, writer.MaxFrameLength);
        Assert.Equal(NetReceiveStatus.FrameTooLarge, writer.Deliver(RxHeader, Frame(1515)).Status);
        Assert.Equal(0, rx.Device.InFlight);

        byte[] frame = Frame(1514);
        NetReceiveResult r = writer.Deliver(RxHeader, frame);
        Assert.Equal(new NetReceiveResult(NetReceiveStatus.Delivered, 1, 1526), r);
        rx.Device.PublishUsed();
        (VirtioNetHeader h, byte[] got, _) = rx.ReclaimFrame(NetHeaderLayout.Modern, mergeable: false);
        Assert.Equal(1, h.NumBuffers);   // §5.1.6.4: num_buffers is 1 without MRG_RXBUF
        Assert.Equal(frame, got);
    }

    [Theory]
    [MemberData(nameof(Rings))]
    public void Deliver_BigBuffersChainTooSmall_FrameTooLargeChainKeptForNextFrame(QueueKind kind, VirtqueueFeatures features)
    {
        using var rx = new RxHarness(kind, 16, features, slotSize: 4096);
        rx.AddBuffers(1, 1000, 1000);
        var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.Legacy, NetReceiveMode.BigBuffers);

        Assert.Equal(NetReceiveStatus.FrameTooLarge, writer.Deliver(RxHeader, Frame(3000)).Status);
        Assert.Equal(1, writer.HeldCount);
        Assert.True(rx.NothingUsed());

        byte[] frame = Frame(1990);   // 10 + 1990 = exactly the chain
        Assert.Equal(NetReceiveStatus.Delivered, writer.Deliver(RxHeader, frame).Status);
        rx.Device.PublishUsed();
        Assert.Equal(frame, rx.ReclaimFrame(NetHeaderLayout.Legacy, mergeable: false).Frame);
    }

    [Fact]
    public void Deliver_BrokenQueue_QueueBrokenAndHeldForgotten()
    {
        var config = new QueueConfig(QueueKind.Split, 16, VirtqueueFeatures.None);
        using QueuePair pair = QueuePairFactory.CreateDeviceOnly(config);
        pair.Writer.WriteAvailIdx(1000);   // an avail index jump past the queue size (vm-virtio #196)
        var writer = new NetReceiveWriter(pair.Device, NetHeaderLayout.Modern, NetReceiveMode.Mergeable);
        Assert.Equal(NetReceiveStatus.QueueBroken, writer.Deliver(RxHeader, Frame(100)).Status);
        Assert.True(pair.Device.IsBroken);
        Assert.Equal(NetReceiveStatus.QueueBroken, writer.Deliver(RxHeader, Frame(100)).Status);
        Assert.Equal(0, writer.HeldCount);
    }

    [Fact]
    public void Deliver_ZeroLengthBuffers_SpreadWithoutHangOrThrow()
    {
        using var rx = new RxHarness(QueueKind.Packed, 16, VirtqueueFeatures.None);
        rx.AddBuffers(3, 0);
        rx.AddBuffers(3, 16);
        var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.Modern, NetReceiveMode.Mergeable);
        byte[] frame = Frame(30);
        NetReceiveResult r = writer.Deliver(RxHeader, frame);
        Assert.Equal(NetReceiveStatus.Delivered, r.Status);
        Assert.Equal(6, r.Buffers);
        rx.Device.PublishUsed();

        // A driver that gave zero-length buffers sees them used, empty, counted in num_buffers; the
        // header straddles the first real ones.
        (byte[] all, int[] lengths) = rx.ReclaimRaw(6);
        Assert.Equal([0, 0, 0, 16, 16, 10], lengths);
        Assert.Equal(6, VirtioNetHeader.Read(all, NetHeaderLayout.Modern).NumBuffers);
        Assert.Equal(frame, all.AsSpan(12).ToArray());
    }

    [Theory]
    [InlineData(QueueKind.Split)]
    [InlineData(QueueKind.Packed)]
    public void Deliver_Gather_SameBytesAsContiguous(QueueKind kind)
    {
        using var rx = new RxHarness(kind, 32, VirtqueueFeatures.None);
        rx.AddBuffers(16, 100);
        var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.Modern, NetReceiveMode.Mergeable);
        byte[] frame = Frame(777);
        ReadOnlySequence<byte> gather = Segments(frame, 1, 13, 500);

        Assert.Equal(NetReceiveStatus.Delivered, writer.Deliver(RxHeader, gather).Status);
        rx.Device.PublishUsed();
        Assert.Equal(frame, rx.ReclaimFrame(NetHeaderLayout.Modern, mergeable: true).Frame);
    }

    [Theory]
    [InlineData(QueueKind.Split, QueueKind.Packed)]
    [InlineData(QueueKind.Packed, QueueKind.Split)]
    public void Deliver_FromTransmitChain_GuestToGuestOneCopy(QueueKind txKind, QueueKind rxKind)
    {
        using QueuePair tx = QueuePairFactory.Create(txKind, 16, VirtqueueFeatures.None);
        using var rx = new RxHarness(rxKind, 32, VirtqueueFeatures.None);
        byte[] frame = Frame(400, 9);
        var txBytes = new byte[12 + frame.Length];
        frame.CopyTo(txBytes, 12);
        GuestAddress a = tx.Buffers.Rent(), b = tx.Buffers.Rent();
        tx.Memory.Write(a, txBytes.AsSpan(0, 200));
        tx.Memory.Write(b, txBytes.AsSpan(200));
        Assert.True(tx.Driver.TryAddChain([BufferSegment.Readable(a, 200), BufferSegment.Readable(b, (uint)(txBytes.Length - 200))], 1));
        tx.Driver.PublishAvailable();
        Assert.Equal(PopStatus.Popped, tx.Device.TryPopAvailable(out DescriptorChain txChain));
        Assert.Equal(NetHeaderError.None, VirtioNetHeader.ReadTransmit(txChain, NetHeaderLayout.Modern, NetFeatures.Version1, out _, out int frameLength));

        rx.AddBuffers(8, 128);
        var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.Modern, NetReceiveMode.Mergeable);
        Assert.Equal(NetReceiveStatus.Delivered, writer.Deliver(default, txChain, 12, frameLength).Status);
        rx.Device.PublishUsed();
        Assert.Equal(frame, rx.ReclaimFrame(NetHeaderLayout.Modern, mergeable: true).Frame);
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Deliver(default, txChain, 13, frameLength));
    }

    [Fact]
    public void ReturnHeld_PushesHeldChainsEmpty()
    {
        using var rx = new RxHarness(QueueKind.Split, 16, VirtqueueFeatures.InOrder);
        rx.AddBuffers(2, 64);
        var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.Modern, NetReceiveMode.Mergeable);
        Assert.Equal(NetReceiveStatus.NoBuffers, writer.Deliver(RxHeader, Frame(500)).Status);
        Assert.Equal(2, writer.ReturnHeld());
        Assert.Equal(0, writer.HeldCount);
        Assert.Equal(0, rx.Device.InFlight);
    }

    [Theory]
    [InlineData(NetFeatures.Version1 | NetFeatures.MrgRxBuf | NetFeatures.GuestTso4, NetReceiveMode.Mergeable)]
    [InlineData(NetFeatures.Version1 | NetFeatures.GuestCsum | NetFeatures.GuestUso6, NetReceiveMode.BigBuffers)]
    [InlineData(NetFeatures.Version1 | NetFeatures.GuestCsum, NetReceiveMode.SmallBuffers)]
    public void ModeFor_Features_SpecMode(NetFeatures features, NetReceiveMode mode) => Assert.Equal(mode, NetReceiveWriter.ModeFor(features));

    [Fact]
    public void Deliver_SteadyState_AllocatesNothing()
    {
        using var rx = new RxHarness(QueueKind.Split, 64, VirtqueueFeatures.None);
        var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.Modern, NetReceiveMode.Mergeable);
        var segs = new[] { BufferSegment.Writable(rx.Pair.Buffers.Rent(), 256) };
        byte[] frame = Frame(1000);
        void Round()
        {
            for (int i = 0; i < 20; i++)
            {
                rx.Pair.Driver.TryAddChain(segs, 0);
            }

            rx.Pair.Driver.PublishAvailable();
            for (int i = 0; i < 4; i++)
            {
                writer.Deliver(RxHeader, frame);
            }

            rx.Device.PublishUsed();
            while (rx.Pair.Driver.TryReclaimUsed(out _) == PopStatus.Popped)
            {
            }
        }

        Assert.Equal(0, SteadyStateAllocation.Measure(Round, 200));
    }

    [Property(MaxTest = 300)]
    public Property Deliver_RandomFramesAndBuffers_ReassembledFramesEqualOriginals() => Prop.ForAll(
        Arb.From(from kind in Gen.Elements(QueueKind.Split, QueueKind.Packed)
                 from features in Gen.Elements(VirtqueueFeatures.None, VirtqueueFeatures.InOrder, VirtqueueFeatures.IndirectDescriptors, VirtqueueFeatures.EventIndex | VirtqueueFeatures.InOrder)
                 from bufferLength in Gen.Choose(64, 256)
                 from segments in Gen.Choose(1, 3)
                 from frames in Gen.ArrayOf(Gen.Choose(0, 1500), 5)
                 from seed in Gen.Choose(0, int.MaxValue)
                 select (kind, features, bufferLength, segments, frames, seed)),
        c =>
        {
            // 256 descriptors of at least 21 bytes each: every frame fits in the ring.
            using var rx = new RxHarness(c.kind, 256, c.features, slotSize: 256);
            var writer = new NetReceiveWriter(rx.Device, NetHeaderLayout.Modern, NetReceiveMode.Mergeable);
            var lengths = new int[c.segments];
            for (int s = 0; s < lengths.Length; s++)
            {
                lengths[s] = Math.Max(1, c.bufferLength / c.segments);
            }

            foreach (int length in c.frames)
            {
                byte[] frame = Frame(length, c.seed + length);
                NetReceiveResult r = writer.Deliver(RxHeader, frame);
                while (r.Status == NetReceiveStatus.NoBuffers)
                {
                    rx.AddBuffers(4, lengths);
                    r = writer.Deliver(RxHeader, frame);
                }

                Assert.Equal(NetReceiveStatus.Delivered, r.Status);
                rx.Device.PublishUsed();
                (VirtioNetHeader h, byte[] got, _) = rx.ReclaimFrame(NetHeaderLayout.Modern, mergeable: true);
                Assert.Equal(r.Buffers, h.NumBuffers);
                Assert.Equal(frame, got);
            }
        });

    private static ReadOnlySequence<byte> Segments(byte[] data, params int[] cuts)
    {
        var first = new Chunk(data.AsMemory(0, cuts[0]), 0);
        Chunk last = first;
        int at = cuts[0];
        for (int i = 1; i <= cuts.Length; i++)
        {
            int end = i < cuts.Length ? cuts[i] : data.Length;
            last = last.Append(data.AsMemory(at, end - at));
            at = end;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Chunk : ReadOnlySequenceSegment<byte>
    {
        public Chunk(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Chunk Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Chunk(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
