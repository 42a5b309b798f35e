using System;
using System.Collections.Generic;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using Xunit;

namespace VirtioRing.Tests.Queues.Packed;

public class PackedRoundTripTests
{
    public static TheoryData<int, int, bool> Shapes() => new()
    {
        { 1, 0, false }, { 0, 1, false }, { 1, 1, false }, { 3, 5, false }, { 8, 8, false },
        { 1, 1, true }, { 3, 5, true }, { 8, 8, true }, { 0, 1, true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RoundTrip_Segments_DevicePopsWhatDriverAdded(int readable, int writable, bool indirect)
    {
        var features = indirect ? VirtqueueFeatures.IndirectDescriptors : VirtqueueFeatures.None;
        using var rig = new PackedRig(32, features, maxIndirect: indirect ? 16 : 0);
        rig.Add(77, 0, readable, writable);
        int total = readable + writable;
        bool usesTable = indirect && total > 1;
        Assert.Equal(32 - (usesTable ? 1 : total), rig.Driver.FreeDescriptors);
        Assert.Equal(PopStatus.Empty, rig.Device.TryPopAvailable(out _));   // not published yet
        Assert.Equal(1, rig.Driver.PublishAvailable());

        DescriptorChain c = rig.Pop();
        Assert.Equal(total, c.SegmentCount);
        Assert.Equal(readable, c.ReadableCount);
        Assert.Equal((uint)(16 * readable), c.ReadableLength);
        Assert.Equal((uint)(16 * writable), c.WritableLength);
        for (int i = 0; i < total; i++)
        {
            Assert.Equal(new BufferSegment(PackedRig.Buffer(i), 16, i >= readable), c.GetSegment(i));
        }

        Assert.Equal(usesTable ? 1 : total, c.DescriptorCount);
        Assert.Equal(PopStatus.Empty, rig.Device.TryPopAvailable(out _));
        rig.Device.PushUsed(c, c.WritableLength);
        Assert.Equal(1, rig.Device.PublishUsed());

        Assert.Equal(PopStatus.Popped, rig.Driver.TryReclaimUsed(out UsedBuffer u));
        Assert.Equal(77UL, u.Token);
        Assert.Equal((uint)(16 * writable), u.WrittenLength);
        Assert.Equal(PopStatus.Empty, rig.Driver.TryReclaimUsed(out _));
        Assert.Equal(32, rig.Driver.FreeDescriptors);
        Assert.Equal(0, rig.Driver.Outstanding);
        Assert.Equal(0, rig.Device.InFlight);
        Assert.True(rig.Guarded.GuardsIntact());
    }

    [Fact]
    public void RoundTrip_DeviceWritesBytes_DriverReadsThemBack()
    {
        using var rig = new PackedRig(8, VirtqueueFeatures.None);
        rig.Memory.Write(PackedRig.Buffer(0), new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 });
        rig.Add(1, 0, readable: 1, writable: 2);
        rig.Driver.PublishAvailable();

        DescriptorChain c = rig.Pop();
        var request = new byte[16];
        Assert.Equal(16, c.CopyFromReadable(0, request));
        Assert.Equal(1, request[0]);
        Assert.Equal(16, request[15]);
        var reply = new byte[20];
        for (int i = 0; i < reply.Length; i++)
        {
            reply[i] = (byte)(0xC0 + i);
        }

        Assert.Equal(20, c.CopyToWritable(0, reply));
        rig.Device.PushUsed(c, 20);
        rig.Device.PublishUsed();

        Assert.Equal(PopStatus.Popped, rig.Driver.TryReclaimUsed(out UsedBuffer u));
        Assert.Equal(20u, u.WrittenLength);
        var back = new byte[20];
        rig.Memory.Read(PackedRig.Buffer(1), back.AsSpan(0, 16));
        rig.Memory.Read(PackedRig.Buffer(2), back.AsSpan(16, 4));
        Assert.Equal(reply, back);
        Assert.True(rig.Guarded.GuardsIntact());
    }

    [Fact]
    public void PushUsed_OutOfOrder_DriverGetsCompletionOrder()
    {
        using var rig = new PackedRig(8, VirtqueueFeatures.None);
        rig.Add(10, 0, 1, 1);   // 2 slots
        rig.Add(11, 2, 0, 1);   // 1 slot
        rig.Add(12, 3, 2, 1);   // 3 slots
        rig.Driver.PublishAvailable();
        DescriptorChain a = rig.Pop(), b = rig.Pop(), c = rig.Pop();

        rig.Device.PushUsed(c, 3);
        rig.Device.PushUsed(a, 1);
        rig.Device.PublishUsed();
        List<UsedBuffer> first = rig.ReclaimAll();
        Assert.Equal(new ulong[] { 12, 10 }, first.ConvertAll(x => x.Token));
        Assert.Equal(new uint[] { 3, 1 }, first.ConvertAll(x => x.WrittenLength));

        rig.Device.PushUsed(b, 0);
        rig.Device.PublishUsed();
        List<UsedBuffer> second = rig.ReclaimAll();
        Assert.Equal(new ulong[] { 11 }, second.ConvertAll(x => x.Token));
        Assert.Equal(8, rig.Driver.FreeDescriptors);
    }

    [Fact]
    public void HeldChains_PushedLaterInReverse_AllReclaimedAndRingReusable()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        for (int round = 0; round < 5; round++)
        {
            var held = new List<DescriptorChain>();
            for (int i = 0; i < 4; i++)
            {
                rig.Add((ulong)(round * 10 + i), i, 0, 1);
            }

            Assert.False(rig.Driver.TryAddChain(new[] { BufferSegment.Readable(PackedRig.Buffer(9), 1) }, 99));
            rig.Driver.PublishAvailable();
            for (int i = 0; i < 4; i++)
            {
                held.Add(rig.Pop());
            }

            Assert.Equal(4, rig.Device.InFlight);
            Assert.Equal(PopStatus.Empty, rig.Device.TryPopAvailable(out _));
            for (int i = 3; i >= 0; i--)
            {
                Assert.True(held[i].IsHeld);
                held[i].CopyToWritable(0, new byte[] { (byte)i });
                rig.Device.PushUsed(held[i], 1);
                Assert.False(held[i].IsHeld);
            }

            rig.Device.PublishUsed();
            List<UsedBuffer> got = rig.ReclaimAll();
            Assert.Equal(new ulong[] { (ulong)(round * 10 + 3), (ulong)(round * 10 + 2), (ulong)(round * 10 + 1), (ulong)(round * 10) }, got.ConvertAll(x => x.Token));
        }

        Assert.True(rig.Guarded.GuardsIntact());
    }

    [Fact]
    public void PushUsed_StaleChainPushedTwice_Throws()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        rig.Add(1, 0, 0, 1);
        rig.Driver.PublishAvailable();
        DescriptorChain c = rig.Pop();
        rig.Device.PushUsed(c, 0);
        Assert.Throws<InvalidOperationException>(() => rig.Device.PushUsed(c, 0));
        Assert.Throws<InvalidOperationException>(() => c.GetSpan(0));
        Assert.Throws<InvalidOperationException>(() => rig.Device.PushUsed(default, 0));
    }

    [Fact]
    public void PushUsed_ChainFromAnotherQueue_Throws()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        using var other = new PackedRig(4, VirtqueueFeatures.None);
        other.Add(1, 0, 0, 1);
        other.Driver.PublishAvailable();
        DescriptorChain c = other.Pop();
        Assert.Throws<InvalidOperationException>(() => rig.Device.PushUsed(c, 0));
    }

    [Fact]
    public void PushUsed_LengthAboveWritable_ThrowsAndKeepsChain()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        rig.Add(1, 0, 1, 1);
        rig.Driver.PublishAvailable();
        DescriptorChain c = rig.Pop();
        Assert.Throws<ArgumentOutOfRangeException>(() => rig.Device.PushUsed(c, 17));
        Assert.True(c.IsHeld);
        rig.Device.PushUsed(c, 16);
    }

    [Fact]
    public void TryAddChain_BadSegments_Throws()
    {
        using var rig = new PackedRig(4, VirtqueueFeatures.None);
        Assert.Throws<ArgumentException>(() => rig.Driver.TryAddChain(ReadOnlySpan<BufferSegment>.Empty, 0));
        Assert.Throws<ArgumentException>(() => rig.Driver.TryAddChain(new[] { BufferSegment.Writable(PackedRig.Buffer(0), 1), BufferSegment.Readable(PackedRig.Buffer(1), 1) }, 0));
        Assert.Throws<ArgumentException>(() => rig.Driver.TryAddChain(new BufferSegment[5], 0));
        Assert.Throws<ArgumentException>(() => rig.Driver.TryAddChain(new[] { BufferSegment.Readable(PackedRig.Buffer(0), uint.MaxValue), BufferSegment.Readable(PackedRig.Buffer(1), 1) }, 0));
        Assert.Equal(4, rig.Driver.FreeDescriptors);
    }

    [Theory]
    [InlineData(4, false, false)]
    [InlineData(5, false, false)]
    [InlineData(256, false, false)]
    [InlineData(5, true, false)]
    [InlineData(5, false, true)]
    [InlineData(4, true, true)]
    [InlineData(256, true, true)]
    public void RoundTrip_ManyLaps_WrapCountersStayInStep(int size, bool indirect, bool inOrder)
    {
        var features = (indirect ? VirtqueueFeatures.IndirectDescriptors : 0) | (inOrder ? VirtqueueFeatures.InOrder : 0) | VirtqueueFeatures.EventIndex;
        using var rig = new PackedRig(size, features, maxIndirect: indirect ? 3 : 0);
        var rng = new Random(size * 7 + (indirect ? 1 : 0) + (inOrder ? 2 : 0));
        ulong nextToken = 0, expectedToken = 0;
        var pushedLengths = new Queue<uint>();
        var held = new List<DescriptorChain>();
        int reclaimed = 0;
        int target = 70_000;
        var segs = new BufferSegment[3];
        var popped = new Dictionary<ulong, ulong>();
        while (reclaimed < target)
        {
            // Driver: add a random number of chains of 1..3 segments (the last one writable).
            int adds = rng.Next(1, size + 1);
            for (int k = 0; k < adds; k++)
            {
                int n = rng.Next(1, Math.Min(3, size) + 1);
                for (int i = 0; i < n; i++)
                {
                    segs[i] = new BufferSegment(PackedRig.Buffer(i), (uint)(i + 1), i == n - 1);
                }

                if (!rig.Driver.TryAddChain(segs.AsSpan(0, n), nextToken))
                {
                    break;
                }

                nextToken++;
            }

            rig.Driver.PublishAvailable();

            // Device: pop everything, then complete a random subset (in pop order under IN_ORDER).
            while (rig.Device.TryPopAvailable(out DescriptorChain c) == PopStatus.Popped)
            {
                held.Add(c);
            }

            Assert.False(rig.Device.IsBroken);
            int completes = rng.Next(0, held.Count + 1);
            for (int k = 0; k < completes; k++)
            {
                int pick = inOrder ? 0 : rng.Next(held.Count);
                DescriptorChain c = held[pick];
                held.RemoveAt(pick);
                uint len = inOrder && rng.Next(2) == 0 ? 0 : (uint)rng.Next(0, (int)c.WritableLength + 1);
                rig.Device.PushUsed(c, len);
                pushedLengths.Enqueue(len);
            }

            rig.Device.PublishUsed();
            rig.Device.ShouldNotifyDriver();

            // Driver: reclaim; every token comes back once.
            while (rig.Driver.TryReclaimUsed(out UsedBuffer u) == PopStatus.Popped)
            {
                Assert.False(popped.ContainsKey(u.Token), $"token {u.Token} twice");
                popped[u.Token] = u.Token;
                Assert.Equal(pushedLengths.Dequeue(), u.WrittenLength);   // used descriptors come back in push order
                if (inOrder)
                {
                    Assert.Equal(expectedToken, u.Token);
                }

                expectedToken++;
                reclaimed++;
            }

            Assert.False(rig.Driver.IsBroken, rig.Driver.Fault.ToString());
            Assert.Equal(held.Count, rig.Device.InFlight);
            Assert.Equal(held.Count, rig.Driver.Outstanding);
        }

        Assert.True(nextToken > 65536);
        Assert.True(rig.Guarded.GuardsIntact());
    }
}
