using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Properties;

/// <summary>Failures the properties found, pinned as deterministic tests of their own (STYLE C13).</summary>
public class PropertyRegressionTests
{
    /// <summary>
    /// Found by <see cref="ArbitraryRingProperties"/> (split, size 4, INDIRECT_DESC; FsCheck
    /// 2196361007214557930,3865336098403789421 after 4832 tests). §2.7.5.3.1 lets a device see
    /// direct descriptors followed by one indirect table, and forbids a chain longer than the queue
    /// size: three direct descriptors and a two-entry table make five in a queue of four, so the
    /// device must fault instead of popping a five-segment chain. (The walk counted the direct part
    /// and the table separately, each against the size, so a chain could reach 2·Size − 1 segments.)
    /// </summary>
    [Fact]
    public void SplitTryPopAvailable_DirectDescriptorsThenIndirectTableLongerThanQueue_FaultsChainTooLong()
    {
        using QueuePair pair = QueuePairFactory.CreateDeviceOnly(new QueueConfig(QueueKind.Split, 4, VirtqueueFeatures.IndirectDescriptors), 4096, 4);
        HostileRingWriter w = pair.Writer;
        ulong buffers = QueueMemoryMap.BufferRegionStart;
        var table = new GuestAddress(QueueMemoryMap.IndirectRegionStart);
        w.WriteIndirectTable(table,
        [
            new Descriptor(new GuestAddress(buffers + 0x300), 16, DescriptorFlags.DeviceWritable | DescriptorFlags.Next, 1),
            new Descriptor(new GuestAddress(buffers + 0x400), 16, DescriptorFlags.DeviceWritable, 0),
        ]);
        w.WriteSplitDescriptor(1, buffers, 16, DescriptorFlags.Next, 2);
        w.WriteSplitDescriptor(2, buffers + 0x100, 16, DescriptorFlags.DeviceWritable | DescriptorFlags.Next, 3);
        w.WriteSplitDescriptor(3, buffers + 0x200, 16, DescriptorFlags.DeviceWritable | DescriptorFlags.Next, 0);
        w.WriteSplitDescriptor(0, table.Value, 2 * Descriptor.Size, DescriptorFlags.Indirect);
        w.PublishSplit(1);

        PopStatus status = pair.Device.TryPopAvailable(out DescriptorChain chain);

        Assert.True(status == PopStatus.Broken, $"popped a chain of {(status == PopStatus.Popped ? chain.SegmentCount : 0)} segments from a queue of 4");
        Assert.Equal(VirtqueueFault.ChainTooLong, pair.Device.Fault);
        Assert.Equal(0, pair.Device.InFlight);
        Assert.True(pair.GuardedMemory.GuardsIntact());
    }
}
