using System;
using System.Collections.Generic;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Net.Core;

/// <summary>
/// The driver side of a receive queue for tests: adds chains of device-writable buffers, reclaims
/// used ones, and reassembles frames spread over <c>num_buffers</c> buffers as a driver does.
/// </summary>
internal sealed class RxHarness : IDisposable
{
    private readonly Dictionary<ulong, BufferSegment[]> _chains = [];
    private ulong _nextToken = 1;

    public RxHarness(QueueKind kind, int size, VirtqueueFeatures features, int slotSize = 256)
    {
        Pair = QueuePairFactory.Create(kind, size, features, bufferSlotSize: slotSize);
    }

    public QueuePair Pair { get; }

    public IDeviceQueue Device => Pair.Device;

    /// <summary>Adds <paramref name="count"/> chains, each of writable segments of the given lengths, and publishes them.</summary>
    public void AddBuffers(int count, params int[] segmentLengths)
    {
        for (int i = 0; i < count; i++)
        {
            var segs = new BufferSegment[segmentLengths.Length];
            for (int s = 0; s < segs.Length; s++)
            {
                GuestAddress a = Pair.Buffers.Rent();
                Pair.Memory.GetSpan(a, (ulong)segmentLengths[s]).Fill(0xCC);
                segs[s] = BufferSegment.Writable(a, (uint)segmentLengths[s]);
            }

            ulong token = _nextToken++;
            Assert.True(Pair.Driver.TryAddChain(segs, token));
            _chains[token] = segs;
        }

        Pair.Driver.PublishAvailable();
    }

    /// <summary>Reclaims one frame: the first used buffer's header gives num_buffers; the payload is everything after the header.</summary>
    public (VirtioNetHeader Header, byte[] Frame, int[] Lengths) ReclaimFrame(NetHeaderLayout layout, bool mergeable)
    {
        var bytes = new List<byte>();
        var lengths = new List<int>();
        int expected = 1;
        VirtioNetHeader header = default;
        for (int i = 0; i < expected; i++)
        {
            Assert.Equal(PopStatus.Popped, Pair.Driver.TryReclaimUsed(out UsedBuffer used));
            BufferSegment[] segs = _chains[used.Token];
            _chains.Remove(used.Token);
            lengths.Add((int)used.WrittenLength);
            uint left = used.WrittenLength;
            foreach (BufferSegment s in segs)
            {
                int n = (int)Math.Min(left, s.Length);
                bytes.AddRange(Pair.Memory.GetSpan(s.Address, (ulong)n).ToArray());
                left -= (uint)n;
                Pair.Buffers.Return(s.Address);
            }

            if (i == 0)
            {
                Assert.True(bytes.Count >= layout.Size, "the first buffer holds the whole header");
                header = VirtioNetHeader.Read(bytes.ToArray(), layout);
                expected = mergeable ? header.NumBuffers : 1;
                Assert.True(expected >= 1);
            }
        }

        byte[] all = bytes.ToArray();
        return (header, all.AsSpan(layout.Size).ToArray(), lengths.ToArray());
    }

    /// <summary>Reclaims <paramref name="count"/> used buffers and concatenates their written bytes.</summary>
    public (byte[] Bytes, int[] Lengths) ReclaimRaw(int count)
    {
        var bytes = new List<byte>();
        var lengths = new int[count];
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(PopStatus.Popped, Pair.Driver.TryReclaimUsed(out UsedBuffer used));
            lengths[i] = (int)used.WrittenLength;
            uint left = used.WrittenLength;
            foreach (BufferSegment s in _chains[used.Token])
            {
                int n = (int)Math.Min(left, s.Length);
                bytes.AddRange(Pair.Memory.GetSpan(s.Address, (ulong)n).ToArray());
                left -= (uint)n;
            }

            _chains.Remove(used.Token);
        }

        return (bytes.ToArray(), lengths);
    }

    public bool NothingUsed()
    {
        Pair.Device.PublishUsed();
        return Pair.Driver.TryReclaimUsed(out _) == PopStatus.Empty;
    }

    public void Dispose()
    {
        Assert.True(Pair.GuardedMemory.GuardsIntact());
        Pair.Dispose();
    }
}
