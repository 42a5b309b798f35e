using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Properties;

/// <summary>
/// Arbitrary bytes as a ring, device side: the descriptor table or ring, the available ring, the
/// driver's event field and an indirect-looking area are filled with generated values whose
/// addresses often land in guest memory. Popping must end (Empty or Broken) within Size + 1 pops,
/// never throw, and yield only well-formed chains; pushing them back with every writable byte
/// written must not touch memory outside the regions.
/// </summary>
public class ArbitraryRingProperties
{
    [Property(MaxTest = 1000)]
    public Property SplitDevice_ArbitraryRing_PopsWellFormedChainsOrFaultsAndTerminates() => Check(QueueKind.Split);

    [Property(MaxTest = 1000)]
    public Property PackedDevice_ArbitraryRing_PopsWellFormedChainsOrFaultsAndTerminates() => Check(QueueKind.Packed);

    private static Property Check(QueueKind kind) =>
        Prop.ForAll(Arb.From(RingGen.HostileFor(kind), RingGen.ShrinkHostile), Run);

    internal static void Run(HostileRingImage image)
    {
        using QueuePair pair = image.CreatePair();
        image.WriteTo(pair);
        IDeviceQueue device = pair.Device;
        int size = image.Config.Size;
        var popped = new List<DescriptorChain>();
        PopStatus status = PopStatus.Popped;
        for (int i = 0; i <= size && status == PopStatus.Popped; i++)
        {
            status = Pop(device, out DescriptorChain chain);
            if (status == PopStatus.Popped)
            {
                Assert.False(device.IsBroken, "a queue that popped a chain reports itself broken");
                Assert.Equal(VirtqueueFault.None, device.Fault);
                AssertWellFormed(pair, chain);
                popped.Add(chain);
            }
        }

        Assert.True(status != PopStatus.Popped, $"the device popped {size + 1} chains from a ring of {size}: popping does not terminate");
        Assert.Equal(popped.Count, device.InFlight);
        if (status == PopStatus.Broken)
        {
            Assert.True(device.IsBroken, "Broken was returned but IsBroken is false");
            Assert.NotEqual(VirtqueueFault.None, device.Fault);
            VirtqueueFault fault = device.Fault;
            Assert.Equal(PopStatus.Broken, Pop(device, out _));
            Assert.Equal(fault, device.Fault);
        }
        else
        {
            Assert.False(device.IsBroken, "Empty was returned but IsBroken is true");
            Assert.Equal(VirtqueueFault.None, device.Fault);
        }

        bool refused = false;
        foreach (DescriptorChain chain in popped)
        {
            for (int i = chain.ReadableCount; i < chain.SegmentCount; i++)
            {
                chain.GetSpan(i).Fill(image.FillByte);
            }

            try
            {
                device.PushUsed(chain, chain.WritableLength);
            }
            catch (InvalidOperationException) when (device.IsBroken)
            {
                // A broken queue may refuse to complete chains; the contract leaves it open.
                refused = true;
            }
        }

        if (!refused)
        {
            Assert.Equal(0, device.InFlight);
        }

        try
        {
            device.PublishUsed();
            device.ShouldNotifyDriver();
        }
        catch (InvalidOperationException) when (device.IsBroken)
        {
        }

        Assert.True(pair.GuardedMemory.GuardsIntact(), "a guard band was overwritten: the device wrote outside guest memory");
    }

    private static PopStatus Pop(IDeviceQueue device, out DescriptorChain chain)
    {
        try
        {
            return device.TryPopAvailable(out chain);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"TryPopAvailable threw instead of faulting: {e}", e);
        }
    }

    private static void AssertWellFormed(QueuePair pair, DescriptorChain chain)
    {
        Assert.True(chain.IsHeld);
        Assert.InRange(chain.SegmentCount, 1, pair.Size);
        Assert.InRange(chain.ReadableCount, 0, chain.SegmentCount);
        if (pair.Kind == QueueKind.Split)
        {
            Assert.InRange(chain.Id, 0, pair.Size - 1);
        }

        ulong readable = 0;
        ulong writable = 0;
        for (int i = 0; i < chain.SegmentCount; i++)
        {
            BufferSegment s = chain.GetSegment(i);
            Assert.Equal(i >= chain.ReadableCount, s.IsDeviceWritable);
            if (s.IsDeviceWritable)
            {
                writable += s.Length;
            }
            else
            {
                readable += s.Length;
            }

            Span<byte> host = chain.GetSpan(i);
            Assert.Equal((int)s.Length, host.Length);
            if (s.Length > 0)
            {
                Assert.Equal(GuestMemoryStatus.Ok, pair.Memory.TryGetSpan(s.Address, s.Length, out Span<byte> expected));
                Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(expected), ref MemoryMarshal.GetReference(host)),
                    $"segment {i} at {s.Address} maps to other host memory than the region table says");
            }
        }

        Assert.Equal(readable, (ulong)chain.ReadableLength);
        Assert.Equal(writable, (ulong)chain.WritableLength);
        Assert.True(readable + writable < (1UL << 32), "a chain totals 2^32 bytes or more");
    }
}
