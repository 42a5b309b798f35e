using System;
using System.Threading;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Split;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Queues.Split;

public class SplitStressTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void TryPopAvailable_RandomRingBytes_NeverThrowsAndStaysInsideRegions(int seed)
    {
        var random = new Random(seed);
        using var guarded = new GuardedGuestMemory((0x10000, 0x10000));
        SplitQueueLayout layout = SplitQueueLayout.Contiguous(16, new GuestAddress(0x10000), usedAlignment: 4);
        byte[] noise = new byte[SplitQueueLayout.ContiguousBytes(16, 4)];
        for (int round = 0; round < 2000; round++)
        {
            random.NextBytes(noise);
            Span<byte> ring = guarded.Memory.GetSpan(layout.DescriptorTable, (ulong)noise.Length);
            noise.CopyTo(ring);

            // Point some descriptors inside the region so that walks get past the first check.
            for (int i = 0; i < 16; i++)
            {
                if (random.Next(2) == 0)
                {
                    ulong address = 0x10000 + (ulong)random.Next(0, 0x10000);
                    BitConverterLe.WriteUInt64(ring.Slice(16 * i), address);
                    BitConverterLe.WriteUInt32(ring.Slice((16 * i) + 8), (uint)random.Next(0, 0x200));
                    ring[(16 * i) + 12] &= 0x07;
                    ring[(16 * i) + 13] = 0;
                    ring[(16 * i) + 14] &= 0x1f;
                    ring[(16 * i) + 15] = 0;
                }
            }

            var features = (VirtqueueFeatures)random.Next(0, 8);
            var device = new SplitDeviceQueue(guarded.Memory, layout, features);
            device.RestoreState(new QueueState((ushort)random.Next(0, 65536), (ushort)random.Next(0, 65536)));
            for (int pops = 0; pops < 64; pops++)
            {
                PopStatus status = device.TryPopAvailable(out DescriptorChain chain);
                if (status != PopStatus.Popped)
                {
                    Assert.Equal(status == PopStatus.Broken, device.IsBroken);
                    break;
                }

                byte[] bytes = new byte[chain.WritableLength];
                chain.CopyToWritable(0, bytes);
                device.PushUsed(chain, (uint)bytes.Length);
                device.PublishUsed();
                device.ShouldNotifyDriver();
            }

            device.EnableNotifications();
            Assert.True(guarded.GuardsIntact());
        }
    }

    [Fact]
    public void RoundTrip_DriverAndDeviceOnTwoThreads_EveryBufferReturnsOnce()
    {
        using var pair = new SplitPair(256, VirtqueueFeatures.EventIndex);
        const int Total = 100_000;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        Exception? deviceError = null;
        var device = new Thread(() =>
        {
            try
            {
                RunDevice();
            }
            catch (Exception e)
            {
                deviceError = e;
                cts.Cancel();
            }
        });
        device.Start();

        void RunDevice()
        {
            int done = 0;
            while (done < Total && !cts.IsCancellationRequested)
            {
                int batch = 0;
                while (pair.Device.TryPopAvailable(out DescriptorChain chain) == PopStatus.Popped)
                {
                    BitConverterLe.WriteUInt32(chain.GetSpan(0), (uint)chain.GetSegment(0).Address.Value ^ 0x5a5a5a5a);
                    pair.Device.PushUsed(chain, 4);
                    batch++;
                }

                Assert.False(pair.Device.IsBroken);
                done += pair.Device.PublishUsed();
                if (batch == 0)
                {
                    Thread.Yield();
                }
            }
        }

        var seen = new bool[Total];
        ulong next = 0;
        int reclaimed = 0;
        var segment = new BufferSegment[1];
        while (reclaimed < Total && !cts.IsCancellationRequested)
        {
            while (next < Total)
            {
                segment[0] = BufferSegment.Writable(SplitPair.Data((int)(next % 512)), 64);
                if (!pair.Driver.TryAddChain(segment, next))
                {
                    break;
                }

                next++;
            }

            pair.Driver.PublishAvailable();
            int got = 0;
            while (pair.Driver.TryReclaimUsed(out UsedBuffer used) == PopStatus.Popped)
            {
                Assert.Equal(4U, used.WrittenLength);
                Assert.False(seen[used.Token]);
                seen[used.Token] = true;
                GuestAddress slot = SplitPair.Data((int)(used.Token % 512));   // reused only after this token is reclaimed
                uint written = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(pair.Memory.GetSpan(slot, 4));
                Assert.Equal((uint)slot.Value ^ 0x5a5a5a5a, written);
                got++;
            }

            reclaimed += got;
            if (got == 0)
            {
                Thread.Yield();
            }

            Assert.False(pair.Driver.IsBroken);
        }

        Assert.True(device.Join(TimeSpan.FromSeconds(60)));
        Assert.Null(deviceError);
        Assert.Equal(Total, reclaimed);
        Assert.True(pair.Guarded.GuardsIntact());
    }

    [Fact]
    public void RoundTrip_SteadyState_AllocatesNothing()
    {
        using var pair = new SplitPair(256, VirtqueueFeatures.EventIndex | VirtqueueFeatures.IndirectDescriptors, maxIndirect: 4);
        var segments = new[] { BufferSegment.Readable(SplitPair.Data(0), 12), BufferSegment.Writable(SplitPair.Data(1), 1500) };
        var chains = new DescriptorChain[32];

        void Run(int rounds)
        {
            for (int r = 0; r < rounds; r++)
            {
                for (int i = 0; i < 32; i++)
                {
                    pair.Driver.TryAddChain(i % 2 == 0 ? segments : segments.AsSpan(1), (ulong)i);
                }

                pair.Driver.PublishAvailable();
                pair.Driver.ShouldNotifyDevice();
                for (int i = 0; i < 32; i++)
                {
                    pair.Device.TryPopAvailable(out chains[i]);
                }

                for (int i = 0; i < 32; i++)
                {
                    pair.Device.PushUsed(chains[i], 4);
                }

                pair.Device.PublishUsed();
                pair.Device.ShouldNotifyDriver();
                while (pair.Driver.TryReclaimUsed(out _) == PopStatus.Popped)
                {
                }
            }
        }

        Run(100);   // warm up (JIT, tiering)
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run(1000);
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
        Assert.False(pair.Device.IsBroken);
        Assert.False(pair.Driver.IsBroken);
    }

    private static class BitConverterLe
    {
        public static void WriteUInt64(Span<byte> s, ulong v) => System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(s, v);

        public static void WriteUInt32(Span<byte> s, uint v) => System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(s, v);
    }
}
