using System;
using System.Collections.Generic;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.TestKit;

namespace VirtioRing.Tests.Queues.Packed;

/// <summary>
/// A packed queue in guarded guest memory: the ring region (ring + event structures) and a data
/// region (indirect tables, then buffers), with the driver side, the device side, or both.
/// </summary>
internal sealed class PackedRig : IDisposable
{
    public const ulong RingBase = 0x10000;
    public const ulong RingRegionSize = 0x20000;
    public const ulong DataBase = 0x100000;
    public const ulong DataSize = 0x100000;
    public const ulong IndirectBase = DataBase;
    public const ulong BufferBase = DataBase + 0x40000;
    public const uint BufferSize = 0x100;

    public PackedRig(int size, VirtqueueFeatures features, int maxIndirect = 0, bool withDriver = true, bool withDevice = true)
    {
        Guarded = new GuardedGuestMemory((RingBase, RingRegionSize), (DataBase, DataSize));
        Layout = PackedQueueLayout.Contiguous(size, new GuestAddress(RingBase));
        var options = maxIndirect > 0 ? new DriverQueueOptions(new GuestAddress(IndirectBase), maxIndirect) : null;
        if (withDriver)
        {
            Driver = new PackedDriverQueue(Guarded.Memory, Layout, features, options);
        }

        if (withDevice)
        {
            Device = new PackedDeviceQueue(Guarded.Memory, Layout, features);
        }
    }

    public GuardedGuestMemory Guarded { get; }

    public GuestMemory Memory => Guarded.Memory;

    public PackedQueueLayout Layout { get; }

    public PackedDriverQueue Driver { get; } = null!;

    public PackedDeviceQueue Device { get; } = null!;

    public int Size => Layout.Size;

    /// <summary>A distinct 256-byte buffer in the data region.</summary>
    public static GuestAddress Buffer(int index) => new(BufferBase + ((ulong)index * BufferSize));

    /// <summary>A copy of the ring and both event suppression structures.</summary>
    public byte[] SnapshotRingArea() => Memory.GetSpan(Layout.DescriptorRing, PackedQueueLayout.ContiguousBytes(Size)).ToArray();

    public Span<byte> Slot(int slot) => Memory.GetSpan(new GuestAddress(Layout.DescriptorRing.Value + ((ulong)slot * 16)), 16);

    public Descriptor ReadSlot(int slot) => Descriptor.ReadPacked(Slot(slot));

    /// <summary>Writes a raw descriptor as a (possibly hostile) driver would; AVAIL/USED are set for the given wrap.</summary>
    public void WriteAvailable(int slot, ulong address, uint length, DescriptorFlags flags, ushort id, bool wrap = true)
    {
        DescriptorFlags bits = wrap ? DescriptorFlags.Available : DescriptorFlags.Used;
        new Descriptor(new GuestAddress(address), length, flags | bits, id).WritePacked(Slot(slot));
    }

    /// <summary>Writes a raw used descriptor as a (possibly hostile) device would.</summary>
    public void WriteUsed(int slot, ushort id, uint length, bool written, bool wrap = true)
    {
        DescriptorFlags bits = wrap ? DescriptorFlags.Available | DescriptorFlags.Used : DescriptorFlags.None;
        new Descriptor(default, length, bits | (written ? DescriptorFlags.DeviceWritable : 0), id).WritePacked(Slot(slot));
    }

    public Span<byte> DriverEvent => Memory.GetSpan(Layout.DriverEventSuppression, 4);

    public Span<byte> DeviceEvent => Memory.GetSpan(Layout.DeviceEventSuppression, 4);

    /// <summary>Adds and publishes one chain of segments with the given lengths (readable ones first).</summary>
    public void Add(ulong token, int firstBuffer, int readable, int writable)
    {
        var segs = new BufferSegment[readable + writable];
        for (int i = 0; i < segs.Length; i++)
        {
            segs[i] = new BufferSegment(Buffer(firstBuffer + i), 16, i >= readable);
        }

        if (!Driver.TryAddChain(segs, token))
        {
            throw new InvalidOperationException("ring full");
        }
    }

    public DescriptorChain Pop()
    {
        PopStatus s = Device.TryPopAvailable(out DescriptorChain chain);
        if (s != PopStatus.Popped)
        {
            throw new InvalidOperationException($"pop: {s} {Device.Fault}");
        }

        return chain;
    }

    public List<UsedBuffer> ReclaimAll()
    {
        var list = new List<UsedBuffer>();
        while (Driver.TryReclaimUsed(out UsedBuffer u) == PopStatus.Popped)
        {
            list.Add(u);
        }

        return list;
    }

    public void Dispose() => Guarded.Dispose();
}
