using System;
using System.Buffers.Binary;
using VirtioRing.Memory;
using VirtioRing.Queues;

namespace VirtioRing.TestKit;

/// <summary>Reads raw ring fields from guest memory (plain reads: for single-threaded tests).</summary>
public sealed class RingInspector
{
    /// <summary>Creates an inspector over the rings at <paramref name="areas"/>.</summary>
    /// <param name="memory">The guest memory.</param>
    /// <param name="areas">The ring areas.</param>
    public RingInspector(GuestMemory memory, RingAreas areas)
    {
        ArgumentNullException.ThrowIfNull(memory);
        Memory = memory;
        Areas = areas;
    }

    /// <summary>Gets the guest memory.</summary>
    public GuestMemory Memory { get; }

    /// <summary>Gets the ring areas.</summary>
    public RingAreas Areas { get; }

    /// <summary>Split: <c>avail.flags</c>.</summary>
    public ushort AvailFlags => U16(Areas.AvailFlags);

    /// <summary>Split: <c>avail.idx</c>.</summary>
    public ushort AvailIdx => U16(Areas.AvailIdx);

    /// <summary>Split: <c>used_event</c>.</summary>
    public ushort UsedEvent => U16(Areas.UsedEvent);

    /// <summary>Split: <c>used.flags</c>.</summary>
    public ushort UsedFlags => U16(Areas.UsedFlags);

    /// <summary>Split: <c>used.idx</c>.</summary>
    public ushort UsedIdx => U16(Areas.UsedIdx);

    /// <summary>Split: <c>avail_event</c>.</summary>
    public ushort AvailEvent => U16(Areas.AvailEvent);

    /// <summary>Packed: the driver event suppression structure (written by the driver).</summary>
    public EventSuppression DriverEvent => new(U16(Areas.DriverArea), U16(Areas.DriverArea.Add(2)));

    /// <summary>Packed: the device event suppression structure (written by the device).</summary>
    public EventSuppression DeviceEvent => new(U16(Areas.DeviceArea), U16(Areas.DeviceArea.Add(2)));

    /// <summary>Split: <c>avail.ring[slot]</c>.</summary>
    /// <param name="slot">The slot.</param>
    /// <returns>The head index.</returns>
    public ushort AvailEntry(int slot) => U16(Areas.AvailEntry(slot));

    /// <summary>Split: <c>used.ring[slot]</c>.</summary>
    /// <param name="slot">The slot.</param>
    /// <returns>The id and the written length.</returns>
    public (uint Id, uint Length) UsedElement(int slot)
    {
        Span<byte> e = Memory.GetSpan(Areas.UsedElement(slot), 8);
        return (BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e.Slice(4)));
    }

    /// <summary>Split: descriptor <paramref name="index"/> of the table.</summary>
    /// <param name="index">The index.</param>
    /// <returns>The descriptor.</returns>
    public Descriptor SplitDescriptor(int index) => Descriptor.ReadSplit(Memory.GetSpan(Areas.Descriptor(index), Descriptor.Size));

    /// <summary>Packed: ring slot <paramref name="slot"/>.</summary>
    /// <param name="slot">The slot.</param>
    /// <returns>The descriptor.</returns>
    public Descriptor PackedDescriptor(int slot) => Descriptor.ReadPacked(Memory.GetSpan(Areas.Descriptor(slot), Descriptor.Size));

    private ushort U16(GuestAddress address) => BinaryPrimitives.ReadUInt16LittleEndian(Memory.GetSpan(address, 2));
}
