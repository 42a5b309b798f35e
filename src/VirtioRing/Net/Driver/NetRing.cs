using System.Diagnostics;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;

namespace VirtioRing.Net.Driver;

/// <summary>
/// One virtqueue laid out by <see cref="NetDriverRings"/>: its virtio index, its ring addresses and
/// the driver queue over them. The device side of the same queue is built over the same addresses
/// (<see cref="CreateDeviceQueue"/>, or <see cref="SplitLayout"/> / <see cref="PackedLayout"/> by hand,
/// or the three area addresses for a vhost-user <c>SET_VRING_ADDR</c>).
/// </summary>
[DebuggerDisplay("queue {Index} size={Size} packed={IsPacked} desc={DescriptorArea}")]
public sealed class NetRing
{
    internal NetRing(int index, VirtqueueFeatures features, SplitQueueLayout split, PackedQueueLayout packed, bool isPacked, IDriverQueue driver)
    {
        Index = index;
        Features = features;
        SplitLayout = split;
        PackedLayout = packed;
        IsPacked = isPacked;
        Driver = driver;
    }

    /// <summary>Gets the virtio queue index: receiveq(p) = 2p, transmitq(p) = 2p + 1, controlq = 2 × pairs (§5.1.2).</summary>
    public int Index { get; }

    /// <summary>Gets the queue size.</summary>
    public int Size => IsPacked ? PackedLayout.Size : SplitLayout.Size;

    /// <summary>Gets whether the ring is packed (<c>VIRTIO_F_RING_PACKED</c>) rather than split.</summary>
    public bool IsPacked { get; }

    /// <summary>Gets the ring features both sides must use (from the negotiated set).</summary>
    public VirtqueueFeatures Features { get; }

    /// <summary>Gets the split layout (default when <see cref="IsPacked"/>).</summary>
    public SplitQueueLayout SplitLayout { get; }

    /// <summary>Gets the packed layout (default when not <see cref="IsPacked"/>).</summary>
    public PackedQueueLayout PackedLayout { get; }

    /// <summary>Gets the Descriptor Area (§2.6): the split descriptor table or the packed descriptor ring (<c>queue_desc</c>).</summary>
    public GuestAddress DescriptorArea => IsPacked ? PackedLayout.DescriptorRing : SplitLayout.DescriptorTable;

    /// <summary>Gets the Driver Area (§2.6): the split available ring or the packed driver event suppression structure (<c>queue_driver</c>).</summary>
    public GuestAddress DriverArea => IsPacked ? PackedLayout.DriverEventSuppression : SplitLayout.AvailableRing;

    /// <summary>Gets the Device Area (§2.6): the split used ring or the packed device event suppression structure (<c>queue_device</c>).</summary>
    public GuestAddress DeviceArea => IsPacked ? PackedLayout.DeviceEventSuppression : SplitLayout.UsedRing;

    /// <summary>Gets the driver side of the queue (a <see cref="SplitDriverQueue"/> or a <see cref="PackedDriverQueue"/>).</summary>
    public IDriverQueue Driver { get; }

    /// <summary>
    /// Creates the device side of this queue over the same ring memory (the in-process glue, tests).
    /// Call it once per queue, after the driver queue was created (it zeroed the rings).
    /// </summary>
    /// <param name="memory">The device's view of guest memory; <see langword="null"/> for the driver's.</param>
    /// <returns>A <see cref="SplitDeviceQueue"/> or a <see cref="PackedDeviceQueue"/>.</returns>
    public IDeviceQueue CreateDeviceQueue(GuestMemory? memory = null)
    {
        GuestMemory m = memory ?? Driver.Memory;
        return IsPacked ? new PackedDeviceQueue(m, PackedLayout, Features) : new SplitDeviceQueue(m, SplitLayout, Features);
    }
}
