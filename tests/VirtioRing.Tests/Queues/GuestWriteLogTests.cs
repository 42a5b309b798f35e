using System;
using System.Collections.Generic;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Queues;

/// <summary>What a device queue reports to its <see cref="GuestWriteLog"/> (dirty logging for live migration).</summary>
public class GuestWriteLogTests
{
    public static TheoryData<QueueKind, VirtqueueFeatures> Kinds() => new()
    {
        { QueueKind.Split, VirtqueueFeatures.None },
        { QueueKind.Split, VirtqueueFeatures.EventIndex },
        { QueueKind.Split, VirtqueueFeatures.InOrder | VirtqueueFeatures.IndirectDescriptors },
        { QueueKind.Packed, VirtqueueFeatures.None },
        { QueueKind.Packed, VirtqueueFeatures.EventIndex },
        { QueueKind.Packed, VirtqueueFeatures.InOrder | VirtqueueFeatures.IndirectDescriptors },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void PushUsed_WrittenBytesAcrossTwoBuffers_ExactlyThoseBytesAndTheUsedEntryLogged(QueueKind kind, VirtqueueFeatures features)
    {
        using QueuePair pair = QueuePairFactory.Create(kind, 16, features);
        var log = new RecordingLog();
        SetLog(pair.Device, log);
        GuestAddress readable = pair.Buffers.Rent();
        GuestAddress first = pair.Buffers.Rent();
        GuestAddress second = pair.Buffers.Rent();
        BufferSegment[] segments = [BufferSegment.Readable(readable, 64), BufferSegment.Writable(first, 100), BufferSegment.Writable(second, 200)];
        Assert.True(pair.Driver.TryAddChain(segments, 7));
        pair.Driver.PublishAvailable();
        Assert.Equal(PopStatus.Popped, pair.Device.TryPopAvailable(out DescriptorChain chain));

        pair.Device.PushUsed(chain, 150);
        pair.Device.PublishUsed();

        var buffers = new List<(ulong, ulong)>();
        foreach ((ulong address, ulong length) in log.Writes)
        {
            if (address < pair.Areas.DescriptorArea.Value || address >= pair.Areas.DescriptorArea.Value + (16UL * 16))
            {
                buffers.Add((address, length));
            }
        }

        Assert.Equal(new List<(ulong, ulong)> { (first.Value, 100UL), (second.Value, 50UL) }, buffers);   // never the readable one, never past the written length
        if (kind == QueueKind.Split)
        {
            // With EVENT_IDX the pop stores avail_event (after the 16 elements); then used element 0 (offset 4,
            // 8 bytes) and used.idx (offset 2) at publish.
            var expected = new List<(ulong, ulong)> { (4UL, 8UL), (2UL, 2UL) };
            if ((features & VirtqueueFeatures.EventIndex) != 0)
            {
                expected.Insert(0, (4UL + (8UL * 16), 2UL));
            }

            Assert.Equal(expected, log.DeviceArea);
        }
        else
        {
            // The used descriptor in ring slot 0 (after its flags are stored, at publish).
            Assert.Contains((pair.Areas.DescriptorArea.Value, 16UL), log.Writes);
            Assert.Empty(log.DeviceArea);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void PushUsed_ZeroLength_NoBufferLoggedAndNotificationStoresLogged(QueueKind kind, VirtqueueFeatures features)
    {
        using QueuePair pair = QueuePairFactory.Create(kind, 16, features);
        var log = new RecordingLog();
        SetLog(pair.Device, log);
        DescriptorChain chain = PopOneWritable(pair, out GuestAddress b);
        pair.Device.PushUsed(chain, 0);
        pair.Device.PublishUsed();
        Assert.DoesNotContain(log.Writes, w => w.Address == b.Value);
        if (kind == QueueKind.Split && (features & VirtqueueFeatures.EventIndex) != 0)
        {
            // The pop itself keeps avail_event one past the chain (notifications on): a device-area store too.
            Assert.Contains((4UL + (8UL * 16), 2UL), log.DeviceArea);
        }

        log.DeviceArea.Clear();
        pair.Device.DisableNotifications();
        pair.Device.EnableNotifications();
        bool eventIndex = (features & VirtqueueFeatures.EventIndex) != 0;
        if (kind == QueueKind.Split)
        {
            // Without EVENT_IDX: used.flags (offset 0) both times; with it, only avail_event (after the 16 elements) on enable.
            Assert.Equal(eventIndex ? new List<(ulong, ulong)> { (4UL + (8UL * 16), 2UL) } : new List<(ulong, ulong)> { (0UL, 2UL), (0UL, 2UL) }, log.DeviceArea);
        }
        else
        {
            Assert.Equal(new List<(ulong, ulong)> { (2UL, 2UL), (0UL, 4UL) }, log.DeviceArea);   // the flags on disable, the whole structure on enable
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void WriteLog_Null_NothingLoggedAfterRemoval(QueueKind kind, VirtqueueFeatures features)
    {
        using QueuePair pair = QueuePairFactory.Create(kind, 16, features);
        var log = new RecordingLog();
        SetLog(pair.Device, log);
        SetLog(pair.Device, null);
        DescriptorChain chain = PopOneWritable(pair, out _);
        pair.Device.PushUsed(chain, 100);
        pair.Device.PublishUsed();
        pair.Device.EnableNotifications();
        Assert.Empty(log.Writes);
        Assert.Empty(log.DeviceArea);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void PushUsed_StaleDefaultOrForeignChain_ThrowsAndLogsNothing(QueueKind kind, VirtqueueFeatures features)
    {
        using QueuePair pair = QueuePairFactory.Create(kind, 16, features);
        DescriptorChain chain = PopOneWritable(pair, out _);
        pair.Device.PushUsed(chain, 100);
        pair.Device.PublishUsed();
        var log = new RecordingLog();
        SetLog(pair.Device, log);

        Assert.Throws<InvalidOperationException>(() => pair.Device.PushUsed(chain, 100));   // pushed already: stale
        Assert.ThrowsAny<Exception>(() => pair.Device.PushUsed(default, 0));                // never popped

        using QueuePair other = QueuePairFactory.Create(kind, 16, features);
        DescriptorChain foreign = PopOneWritable(other, out _);
        Assert.Throws<InvalidOperationException>(() => pair.Device.PushUsed(foreign, 100));  // held, but by another queue

        Assert.Empty(log.Writes);
        Assert.Empty(log.DeviceArea);
    }

    /// <summary>Makes the driver offer one 100-byte writable buffer and the device pop it.</summary>
    private static DescriptorChain PopOneWritable(QueuePair pair, out GuestAddress buffer)
    {
        buffer = pair.Buffers.Rent();
        Assert.True(pair.Driver.TryAddChain([BufferSegment.Writable(buffer, 100)], 1));
        pair.Driver.PublishAvailable();
        Assert.Equal(PopStatus.Popped, pair.Device.TryPopAvailable(out DescriptorChain chain));
        return chain;
    }

    private static void SetLog(IDeviceQueue queue, GuestWriteLog? log)
    {
        switch (queue)
        {
            case SplitDeviceQueue split:
                split.WriteLog = log;
                Assert.Same(log, split.WriteLog);
                break;
            case PackedDeviceQueue packed:
                packed.WriteLog = log;
                Assert.Same(log, packed.WriteLog);
                break;
            default:
                Assert.Fail("unknown queue type");
                break;
        }
    }

    private sealed class RecordingLog : GuestWriteLog
    {
        public List<(ulong Address, ulong Length)> Writes { get; } = [];

        public List<(ulong Offset, ulong Length)> DeviceArea { get; } = [];

        public override void LogWrite(ulong guestAddress, ulong length) => Writes.Add((guestAddress, length));

        public override void LogDeviceAreaWrite(ulong offset, ulong length) => DeviceArea.Add((offset, length));
    }
}
