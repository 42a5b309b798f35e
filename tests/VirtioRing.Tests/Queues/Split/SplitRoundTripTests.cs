using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Split;
using Xunit;

namespace VirtioRing.Tests.Queues.Split;

public class SplitRoundTripTests
{
    public static TheoryData<int, bool> SegmentCounts() => new()
    {
        { 1, false }, { 2, false }, { 5, false }, { 12, false },
        { 1, true }, { 2, true }, { 5, true }, { 8, true }, { 12, true },
    };

    [Theory]
    [MemberData(nameof(SegmentCounts))]
    public void RoundTrip_Segments_DeviceSeesChainAndDriverReadsDeviceData(int segmentCount, bool indirect)
    {
        VirtqueueFeatures features = indirect ? VirtqueueFeatures.IndirectDescriptors : VirtqueueFeatures.None;
        using var pair = new SplitPair(16, features, maxIndirect: indirect ? 8 : 0);
        int readable = segmentCount / 2;
        var segments = new BufferSegment[segmentCount];
        for (int i = 0; i < segmentCount; i++)
        {
            segments[i] = new BufferSegment(SplitPair.Data(i), (uint)(16 + i), isDeviceWritable: i >= readable);
            if (i < readable)
            {
                pair.Memory.GetSpan(SplitPair.Data(i), 16 + (ulong)i).Fill((byte)(0x10 + i));
            }
        }

        pair.AddAndPublish(0xfeed, segments);
        DescriptorChain chain = pair.Pop();

        Assert.Equal(segmentCount, chain.SegmentCount);
        Assert.Equal(readable, chain.ReadableCount);
        for (int i = 0; i < segmentCount; i++)
        {
            Assert.Equal(segments[i], chain.GetSegment(i));
        }

        Descriptor head = Descriptor.ReadSplit(pair.Memory.GetSpan(new GuestAddress(pair.Layout.DescriptorTable.Value + (16UL * chain.Id)), 16));
        bool expectIndirect = indirect && segmentCount > 1 && segmentCount <= 8;
        Assert.Equal(expectIndirect, (head.Flags & DescriptorFlags.Indirect) != 0);
        Assert.Equal(expectIndirect ? 15 : 16 - segmentCount, pair.Driver.FreeDescriptors);

        // The device reads what the driver wrote, then fills every writable byte.
        var read = new byte[chain.ReadableLength];
        Assert.Equal(read.Length, chain.CopyFromReadable(0, read));
        int offset = 0;
        for (int i = 0; i < readable; i++)
        {
            Assert.All(read.AsSpan(offset, 16 + i).ToArray(), b => Assert.Equal((byte)(0x10 + i), b));
            offset += 16 + i;
        }

        var reply = new byte[chain.WritableLength];
        for (int i = 0; i < reply.Length; i++)
        {
            reply[i] = (byte)(i * 7);
        }

        Assert.Equal(reply.Length, chain.CopyToWritable(0, reply));
        pair.Device.PushUsed(chain, chain.WritableLength);
        Assert.Equal(1, pair.Device.PublishUsed());

        UsedBuffer used = pair.Reclaim();
        Assert.Equal(0xfeedUL, used.Token);
        Assert.Equal(chain.WritableLength, used.WrittenLength);
        var seen = new List<byte>();
        for (int i = readable; i < segmentCount; i++)
        {
            seen.AddRange(pair.Memory.GetSpan(SplitPair.Data(i), segments[i].Length).ToArray());
        }

        Assert.Equal(reply, seen.ToArray());
        Assert.Equal(16, pair.Driver.FreeDescriptors);
        Assert.Equal(0, pair.Driver.Outstanding);
        Assert.Equal(PopStatus.Empty, pair.Driver.TryReclaimUsed(out _));
        Assert.Equal(PopStatus.Empty, pair.Device.TryPopAvailable(out _));
        Assert.True(pair.Guarded.GuardsIntact());
    }

    [Fact]
    public void TryAddChain_NotEnoughDescriptors_ReturnsFalseAndAddsNothing()
    {
        using var pair = new SplitPair(4, VirtqueueFeatures.None);
        Assert.True(pair.Driver.TryAddChain(new[] { BufferSegment.Readable(SplitPair.Data(0), 8), BufferSegment.Readable(SplitPair.Data(1), 8), BufferSegment.Readable(SplitPair.Data(2), 8) }, 1));
        Assert.False(pair.Driver.TryAddChain(new[] { BufferSegment.Readable(SplitPair.Data(3), 8), BufferSegment.Writable(SplitPair.Data(4), 8) }, 2));
        Assert.Equal(1, pair.Driver.FreeDescriptors);
        Assert.Equal(1, pair.Driver.Outstanding);
        Assert.Equal(1, pair.Driver.PublishAvailable());
    }

    [Fact]
    public void TryAddChain_ReadableAfterWritable_ThrowsArgumentException()
    {
        using var pair = new SplitPair(4, VirtqueueFeatures.None);
        Assert.Throws<ArgumentException>(() => pair.Driver.TryAddChain(new[] { BufferSegment.Writable(SplitPair.Data(0), 8), BufferSegment.Readable(SplitPair.Data(1), 8) }, 1));
        Assert.Throws<ArgumentException>(() => pair.Driver.TryAddChain(ReadOnlySpan<BufferSegment>.Empty, 1));
        Assert.Throws<ArgumentException>(() => pair.Driver.TryAddChain(new BufferSegment[5], 1));
        Assert.Equal(4, pair.Driver.FreeDescriptors);
    }

    [Fact]
    public void TryAddChain_TotalOver4GiB_ThrowsArgumentException()
    {
        using var pair = new SplitPair(4, VirtqueueFeatures.None);
        Assert.Throws<ArgumentException>(() => pair.Driver.TryAddChain(new[] { BufferSegment.Readable(SplitPair.Data(0), uint.MaxValue), BufferSegment.Writable(SplitPair.Data(1), 1) }, 1));
    }

    [Fact]
    public void PushUsed_OutOfOrder_DriverReclaimsInCompletionOrder()
    {
        using var pair = new SplitPair(8, VirtqueueFeatures.None);
        for (ulong t = 0; t < 3; t++)
        {
            Assert.True(pair.Driver.TryAddChain(new[] { BufferSegment.Writable(SplitPair.Data((int)t), 64) }, 100 + t));
        }

        pair.Driver.PublishAvailable();
        DescriptorChain a = pair.Pop(), b = pair.Pop(), c = pair.Pop();
        pair.Device.PushUsed(c, 3);
        pair.Device.PushUsed(a, 1);
        pair.Device.PushUsed(b, 2);
        Assert.Equal(3, pair.Device.PublishUsed());

        Assert.Equal((102UL, 3U), Tuple(pair.Reclaim()));
        Assert.Equal((100UL, 1U), Tuple(pair.Reclaim()));
        Assert.Equal((101UL, 2U), Tuple(pair.Reclaim()));
        Assert.Equal(8, pair.Driver.FreeDescriptors);
    }

    [Fact]
    public void PushUsed_HeldChainCompletedLater_ReturnsAfterNewerChains()
    {
        using var pair = new SplitPair(4, VirtqueueFeatures.None);
        pair.AddAndPublish(1, BufferSegment.Readable(SplitPair.Data(0), 8), BufferSegment.Writable(SplitPair.Data(1), 8));
        pair.AddAndPublish(2, BufferSegment.Writable(SplitPair.Data(2), 8));
        DescriptorChain held = pair.Pop();
        DescriptorChain quick = pair.Pop();
        pair.Device.PushUsed(quick, 8);
        pair.Device.PublishUsed();
        Assert.Equal(2UL, pair.Reclaim().Token);

        pair.AddAndPublish(3, BufferSegment.Writable(SplitPair.Data(3), 8));
        DescriptorChain later = pair.Pop();
        Assert.Equal(2, pair.Device.InFlight);
        pair.Device.PushUsed(later, 4);
        pair.Device.PushUsed(held, 5);
        pair.Device.PublishUsed();
        Assert.Equal((3UL, 4U), Tuple(pair.Reclaim()));
        Assert.Equal((1UL, 5U), Tuple(pair.Reclaim()));
        Assert.Equal(4, pair.Driver.FreeDescriptors);
        Assert.Equal(0, pair.Device.InFlight);
    }

    [Fact]
    public void PushUsed_SameChainTwice_ThrowsInvalidOperation()
    {
        using var pair = new SplitPair(4, VirtqueueFeatures.None);
        pair.AddAndPublish(1, BufferSegment.Writable(SplitPair.Data(0), 8));
        DescriptorChain chain = pair.Pop();
        pair.Device.PushUsed(chain, 0);
        Assert.False(chain.IsHeld);
        Assert.Throws<InvalidOperationException>(() => pair.Device.PushUsed(chain, 0));
        Assert.Equal(1, pair.Device.PublishUsed());
    }

    [Fact]
    public void PushUsed_LengthOverWritable_ThrowsAndKeepsChainHeld()
    {
        using var pair = new SplitPair(4, VirtqueueFeatures.None);
        pair.AddAndPublish(1, BufferSegment.Readable(SplitPair.Data(0), 100), BufferSegment.Writable(SplitPair.Data(1), 8));
        DescriptorChain chain = pair.Pop();
        Assert.Throws<ArgumentOutOfRangeException>(() => pair.Device.PushUsed(chain, 9));
        Assert.True(chain.IsHeld);
        pair.Device.PushUsed(chain, 8);
    }

    [Fact]
    public void PushUsed_ChainFromAnotherQueue_ThrowsInvalidOperation()
    {
        using var pair = new SplitPair(4, VirtqueueFeatures.None);
        using var other = new SplitPair(4, VirtqueueFeatures.None);
        pair.AddAndPublish(1, BufferSegment.Writable(SplitPair.Data(0), 8));
        DescriptorChain chain = pair.Pop();
        Assert.Throws<InvalidOperationException>(() => other.Device.PushUsed(chain, 0));
        Assert.True(chain.IsHeld);
    }

    [Fact]
    public void PushUsed_InOrderRunOfZeroLengths_WritesOneUsedElementAndDriverGetsAll()
    {
        using var pair = new SplitPair(8, VirtqueueFeatures.InOrder);
        for (ulong t = 0; t < 4; t++)
        {
            Assert.True(pair.Driver.TryAddChain(new[] { BufferSegment.Writable(SplitPair.Data((int)t), 128) }, 10 + t));
        }

        pair.Driver.PublishAvailable();
        var chains = new DescriptorChain[4];
        for (int i = 0; i < 4; i++)
        {
            chains[i] = pair.Pop();
        }

        pair.Device.PushUsed(chains[0], 0);
        pair.Device.PushUsed(chains[1], 0);
        pair.Device.PushUsed(chains[2], 0);
        pair.Device.PushUsed(chains[3], 77);
        Assert.Equal(4, pair.Device.PublishUsed());

        Assert.Equal((ushort)4, pair.Raw.UsedIndex);
        Assert.Equal((chains[3].Id, 77U), ((ushort)pair.Raw.ReadUsedElement(0).Id, pair.Raw.ReadUsedElement(0).Length));
        Assert.Equal((0U, 0U), pair.Raw.ReadUsedElement(1));   // nothing else written

        Assert.Equal((10UL, 0U), Tuple(pair.Reclaim()));
        Assert.Equal((11UL, 0U), Tuple(pair.Reclaim()));
        Assert.Equal((12UL, 0U), Tuple(pair.Reclaim()));
        Assert.Equal((13UL, 77U), Tuple(pair.Reclaim()));
        Assert.Equal(PopStatus.Empty, pair.Driver.TryReclaimUsed(out _));
        Assert.Equal(8, pair.Driver.FreeDescriptors);
        Assert.Equal(0, pair.Driver.Outstanding);
    }

    [Fact]
    public void PushUsed_InOrderNonZeroLengths_WritesOneElementEach()
    {
        using var pair = new SplitPair(8, VirtqueueFeatures.InOrder);
        for (ulong t = 0; t < 3; t++)
        {
            Assert.True(pair.Driver.TryAddChain(new[] { BufferSegment.Writable(SplitPair.Data((int)t), 128) }, t));
        }

        pair.Driver.PublishAvailable();
        DescriptorChain a = pair.Pop(), b = pair.Pop(), c = pair.Pop();
        pair.Device.PushUsed(a, 1);
        pair.Device.PushUsed(b, 0);
        pair.Device.PublishUsed();   // the run of one zero-length chain is published on its own
        pair.Device.PushUsed(c, 3);
        pair.Device.PublishUsed();
        Assert.Equal((a.Id, 1U), ((ushort)pair.Raw.ReadUsedElement(0).Id, pair.Raw.ReadUsedElement(0).Length));
        Assert.Equal((b.Id, 0U), ((ushort)pair.Raw.ReadUsedElement(1).Id, pair.Raw.ReadUsedElement(1).Length));
        Assert.Equal((c.Id, 3U), ((ushort)pair.Raw.ReadUsedElement(2).Id, pair.Raw.ReadUsedElement(2).Length));
        Assert.Equal((0UL, 1U), Tuple(pair.Reclaim()));
        Assert.Equal((1UL, 0U), Tuple(pair.Reclaim()));
        Assert.Equal((2UL, 3U), Tuple(pair.Reclaim()));
    }

    [Fact]
    public void PushUsed_InOrderOutOfPopOrder_ThrowsInvalidOperation()
    {
        using var pair = new SplitPair(8, VirtqueueFeatures.InOrder);
        pair.AddAndPublish(1, BufferSegment.Writable(SplitPair.Data(0), 8));
        pair.AddAndPublish(2, BufferSegment.Writable(SplitPair.Data(1), 8));
        DescriptorChain first = pair.Pop(), second = pair.Pop();
        Assert.Throws<InvalidOperationException>(() => pair.Device.PushUsed(second, 0));
        Assert.True(second.IsHeld);
        pair.Device.PushUsed(first, 0);
        pair.Device.PushUsed(second, 0);
        Assert.Equal(2, pair.Device.PublishUsed());
    }

    public static TheoryData<int, VirtqueueFeatures, int> WrapCases() => new()
    {
        { 4, VirtqueueFeatures.None, 0 },
        { 256, VirtqueueFeatures.None, 0 },
        { 4, VirtqueueFeatures.EventIndex | VirtqueueFeatures.InOrder, 0 },
        { 256, VirtqueueFeatures.IndirectDescriptors | VirtqueueFeatures.EventIndex, 4 },
        { 8, VirtqueueFeatures.IndirectDescriptors | VirtqueueFeatures.InOrder, 3 },
    };

    [Theory]
    [MemberData(nameof(WrapCases))]
    public void RoundTrip_MoreThan65536Buffers_EveryBufferReturnsAcrossIndexWrap(int size, VirtqueueFeatures features, int maxIndirect)
    {
        using var pair = new SplitPair(size, features, maxIndirect);
        const int Total = 70_000;
        var pending = new Queue<DescriptorChain>();
        ulong nextToken = 0;
        ulong expectedToken = 0;
        bool inOrder = (features & VirtqueueFeatures.InOrder) != 0;
        var segments = new BufferSegment[3];
        Span<byte> word = stackalloc byte[4];
        while (expectedToken < Total)
        {
            // Add as many chains as fit (1 to 3 segments, the last writable).
            while (nextToken < Total)
            {
                int n = 1 + (int)(nextToken % 3);
                int slot = (int)(nextToken % 256);
                for (int i = 0; i < n; i++)
                {
                    segments[i] = new BufferSegment(new GuestAddress(SplitPair.Data(slot).Value + (ulong)(i * 16)), 16, isDeviceWritable: i == n - 1);
                }

                if (!pair.Driver.TryAddChain(segments.AsSpan(0, n), nextToken))
                {
                    break;
                }

                nextToken++;
            }

            pair.Driver.PublishAvailable();
            while (pair.Device.TryPopAvailable(out DescriptorChain chain) == PopStatus.Popped)
            {
                pending.Enqueue(chain);
            }

            Assert.False(pair.Device.IsBroken);

            // Complete in pop order, or (without IN_ORDER) every other chain reversed in pairs.
            var batch = pending.ToArray();
            pending.Clear();
            if (!inOrder)
            {
                for (int i = 0; i + 1 < batch.Length; i += 2)
                {
                    (batch[i], batch[i + 1]) = (batch[i + 1], batch[i]);
                }
            }

            foreach (DescriptorChain chain in batch)
            {
                Span<byte> target = chain.GetSpan(chain.SegmentCount - 1);
                BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)chain.GetSegment(0).Address.Value);
                word.CopyTo(target);
                pair.Device.PushUsed(chain, 4);
            }

            pair.Device.PublishUsed();
            var reclaimed = new List<ulong>();
            while (pair.Driver.TryReclaimUsed(out UsedBuffer used) == PopStatus.Popped)
            {
                Assert.Equal(4U, used.WrittenLength);
                reclaimed.Add(used.Token);
            }

            Assert.False(pair.Driver.IsBroken);
            reclaimed.Sort();
            foreach (ulong token in reclaimed)
            {
                Assert.Equal(expectedToken, token);
                int slot = (int)(token % 256);
                int last = (int)(token % 3);
                uint written = BinaryPrimitives.ReadUInt32LittleEndian(pair.Memory.GetSpan(new GuestAddress(SplitPair.Data(slot).Value + (ulong)(last * 16)), 4));
                Assert.Equal((uint)SplitPair.Data(slot).Value, written);
                expectedToken++;
            }
        }

        Assert.Equal((ushort)(Total % 65536), pair.Device.SaveState().NextAvail);
        Assert.Equal((ushort)(Total % 65536), pair.Raw.UsedIndex);
        Assert.Equal(size, pair.Driver.FreeDescriptors);
        Assert.True(pair.Guarded.GuardsIntact());
    }

    [Fact]
    public void RestoreState_OnNewDeviceQueue_ContinuesWhereSavedQueueStopped()
    {
        using var pair = new SplitPair(8, VirtqueueFeatures.None);
        for (ulong t = 0; t < 5; t++)
        {
            pair.AddAndPublish(t, BufferSegment.Writable(SplitPair.Data((int)t), 8));
            pair.Device.PushUsed(pair.Pop(), 1);
            pair.Device.PublishUsed();
            Assert.Equal(t, pair.Reclaim().Token);
        }

        QueueState state = pair.Device.SaveState();
        Assert.Equal(new QueueState(5, 5), state);

        var device = new SplitDeviceQueue(pair.Memory, pair.Layout, VirtqueueFeatures.None);
        device.RestoreState(state);
        pair.AddAndPublish(99, BufferSegment.Writable(SplitPair.Data(9), 8));
        Assert.Equal(PopStatus.Popped, device.TryPopAvailable(out DescriptorChain chain));
        device.PushUsed(chain, 2);
        device.PublishUsed();
        Assert.Equal((99UL, 2U), Tuple(pair.Reclaim()));
        Assert.Equal(new QueueState(6, 6), device.SaveState());
    }

    [Fact]
    public void RestoreState_WithHeldChains_ForgetsThem()
    {
        using var pair = new SplitPair(8, VirtqueueFeatures.None);
        pair.AddAndPublish(1, BufferSegment.Writable(SplitPair.Data(0), 8));
        DescriptorChain chain = pair.Pop();
        pair.Device.RestoreState(new QueueState(0, 0));
        Assert.False(chain.IsHeld);
        Assert.Equal(0, pair.Device.InFlight);
        Assert.Throws<InvalidOperationException>(() => pair.Device.PushUsed(chain, 0));

        // The ring is read again from position 0: the same chain comes back.
        DescriptorChain again = pair.Pop();
        Assert.Equal(chain.Id, again.Id);
    }

    [Fact]
    public void Reset_AfterUse_StartsFromZeroWithNoFault()
    {
        using var pair = new SplitPair(4, VirtqueueFeatures.None);
        pair.Raw.SetAvailIndex(100);   // a jump: breaks the queue
        Assert.Equal(PopStatus.Broken, pair.Device.TryPopAvailable(out _));
        pair.Raw.SetAvailIndex(0);
        pair.Device.Reset();
        Assert.False(pair.Device.IsBroken);
        Assert.Equal(new QueueState(0, 0), pair.Device.SaveState());
        Assert.Equal(PopStatus.Empty, pair.Device.TryPopAvailable(out _));
    }

    [Fact]
    public void Memory_SetToTableWithRings_KeepsWorking()
    {
        using var pair = new SplitPair(4, VirtqueueFeatures.None);
        pair.AddAndPublish(1, BufferSegment.Writable(SplitPair.Data(0), 8));
        DescriptorChain held = pair.Pop();
        using var extra = GuestRegion.Allocate(new GuestAddress(0x1000_0000), 0x1000);
        pair.Device.Memory = pair.Memory.WithRegion(extra);
        Assert.False(pair.Device.IsBroken);
        pair.Device.PushUsed(held, 8);
        pair.Device.PublishUsed();
        Assert.Equal((1UL, 8U), Tuple(pair.Reclaim()));
    }

    private static (ulong, uint) Tuple(UsedBuffer used) => (used.Token, used.WrittenLength);
}
