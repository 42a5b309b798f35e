using System.Globalization;
using VirtioRing.Memory;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;

namespace VirtioRing.TestKit;

/// <summary>
/// Where the three areas of a virtqueue are (virtio 1.2 §2.6): the Descriptor Area (split: the
/// descriptor table; packed: the descriptor ring), the Driver Area (split: the available ring;
/// packed: the driver event suppression structure), and the Device Area (split: the used ring;
/// packed: the device event suppression structure).
/// </summary>
/// <param name="Kind">Split or packed.</param>
/// <param name="Size">The queue size.</param>
/// <param name="DescriptorArea">The descriptor table or ring.</param>
/// <param name="DriverArea">The available ring, or the driver event suppression structure.</param>
/// <param name="DeviceArea">The used ring, or the device event suppression structure.</param>
public readonly record struct RingAreas(QueueKind Kind, int Size, GuestAddress DescriptorArea, GuestAddress DriverArea, GuestAddress DeviceArea)
{
    /// <summary>Gets the areas of a split layout.</summary>
    /// <param name="layout">The layout.</param>
    /// <returns>The areas.</returns>
    public static RingAreas From(SplitQueueLayout layout) =>
        new(QueueKind.Split, layout.Size, layout.DescriptorTable, layout.AvailableRing, layout.UsedRing);

    /// <summary>Gets the areas of a packed layout.</summary>
    /// <param name="layout">The layout.</param>
    /// <returns>The areas.</returns>
    public static RingAreas From(PackedQueueLayout layout) =>
        new(QueueKind.Packed, layout.Size, layout.DescriptorRing, layout.DriverEventSuppression, layout.DeviceEventSuppression);

    /// <summary>Gets the split layout these areas describe.</summary>
    /// <returns>The layout.</returns>
    public SplitQueueLayout ToSplitLayout() => new(Size, DescriptorArea, DriverArea, DeviceArea);

    /// <summary>Gets the packed layout these areas describe.</summary>
    /// <returns>The layout.</returns>
    public PackedQueueLayout ToPackedLayout() => new(Size, DescriptorArea, DriverArea, DeviceArea);

    /// <summary>Split: the address of <c>avail.flags</c>.</summary>
    public GuestAddress AvailFlags => DriverArea;

    /// <summary>Split: the address of <c>avail.idx</c>.</summary>
    public GuestAddress AvailIdx => DriverArea.Add(2);

    /// <summary>Split: the address of <c>avail.ring[slot]</c>.</summary>
    /// <param name="slot">The ring slot, in [0, Size).</param>
    /// <returns>The address.</returns>
    public GuestAddress AvailEntry(int slot) => DriverArea.Add(4 + (2 * (ulong)slot));

    /// <summary>Split: the address of <c>used_event</c> (after the available ring entries).</summary>
    public GuestAddress UsedEvent => AvailEntry(Size);

    /// <summary>Split: the address of <c>used.flags</c>.</summary>
    public GuestAddress UsedFlags => DeviceArea;

    /// <summary>Split: the address of <c>used.idx</c>.</summary>
    public GuestAddress UsedIdx => DeviceArea.Add(2);

    /// <summary>Split: the address of <c>used.ring[slot]</c> (id le32, len le32).</summary>
    /// <param name="slot">The ring slot, in [0, Size).</param>
    /// <returns>The address.</returns>
    public GuestAddress UsedElement(int slot) => DeviceArea.Add(4 + (8 * (ulong)slot));

    /// <summary>Split: the address of <c>avail_event</c> (after the used ring elements).</summary>
    public GuestAddress AvailEvent => UsedElement(Size);

    /// <summary>The address of descriptor <paramref name="index"/> in the table (split) or ring (packed).</summary>
    /// <param name="index">The descriptor index.</param>
    /// <returns>The address.</returns>
    public GuestAddress Descriptor(int index) => DescriptorArea.Add(16 * (ulong)index);

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Kind} size={Size} desc={DescriptorArea} driver={DriverArea} device={DeviceArea}");
}
