using System;
using System.Diagnostics;
using VirtioRing.Memory;

namespace VirtioRing.Queues.Packed;

/// <summary>
/// Where the three parts of a packed virtqueue live in guest memory (virtio 1.2 §2.8): the
/// descriptor ring (16 × size bytes, 16-aligned), the driver event suppression structure and the
/// device event suppression structure (4 bytes each, 4-aligned).
/// </summary>
/// <remarks>
/// The layout only checks sizes and alignment. Whether the areas lie inside guest memory is
/// checked by the queues: the device side turns a bad address into a fault, the driver side throws.
/// A default value (size 0) is not a usable layout.
/// </remarks>
[DebuggerDisplay("size={Size} ring={DescriptorRing} driver={DriverEventSuppression} device={DeviceEventSuppression}")]
public readonly struct PackedQueueLayout
{
    /// <summary>The size in bytes of one event suppression structure (§2.8.10).</summary>
    public const int EventSuppressionBytes = 4;

    /// <summary>The largest packed queue size (2^15, §2.8).</summary>
    internal const int MaxSize = 32768;

    private const ulong RingAlignment = 16;
    private const ulong EventAlignment = 4;

    /// <summary>Creates a layout from the three area addresses.</summary>
    /// <param name="size">The queue size, in [1, 32768]; it need not be a power of two.</param>
    /// <param name="descriptorRing">The descriptor ring (Descriptor Area), 16-byte aligned.</param>
    /// <param name="driverEventSuppression">The driver event suppression structure (Driver Area), 4-byte aligned.</param>
    /// <param name="deviceEventSuppression">The device event suppression structure (Device Area), 4-byte aligned.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not in [1, 32768].</exception>
    /// <exception cref="ArgumentException">An area is not aligned as §2.8.10.1 requires.</exception>
    public PackedQueueLayout(int size, GuestAddress descriptorRing, GuestAddress driverEventSuppression, GuestAddress deviceEventSuppression)
    {
        if (!IsValidSize(size))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(size), "A packed queue size is in [1, 32768].");
        }

        if (!descriptorRing.IsAligned(RingAlignment))
        {
            ThrowHelper.ThrowArgument(nameof(descriptorRing), "The descriptor ring must be 16-byte aligned.");
        }

        if (!driverEventSuppression.IsAligned(EventAlignment))
        {
            ThrowHelper.ThrowArgument(nameof(driverEventSuppression), "The driver event suppression structure must be 4-byte aligned.");
        }

        if (!deviceEventSuppression.IsAligned(EventAlignment))
        {
            ThrowHelper.ThrowArgument(nameof(deviceEventSuppression), "The device event suppression structure must be 4-byte aligned.");
        }

        Size = size;
        DescriptorRing = descriptorRing;
        DriverEventSuppression = driverEventSuppression;
        DeviceEventSuppression = deviceEventSuppression;
    }

    /// <summary>Gets the queue size (number of descriptors in the ring).</summary>
    public int Size { get; }

    /// <summary>Gets the guest address of the descriptor ring.</summary>
    public GuestAddress DescriptorRing { get; }

    /// <summary>Gets the guest address of the driver event suppression structure (written by the driver, read by the device).</summary>
    public GuestAddress DriverEventSuppression { get; }

    /// <summary>Gets the guest address of the device event suppression structure (written by the device, read by the driver).</summary>
    public GuestAddress DeviceEventSuppression { get; }

    /// <summary>
    /// Lays the three parts out back to back from <paramref name="start"/>: the ring, then the
    /// driver event suppression structure, then the device one (<see cref="ContiguousBytes"/> in all).
    /// </summary>
    /// <param name="size">The queue size, in [1, 32768].</param>
    /// <param name="start">The start address, 16-byte aligned.</param>
    /// <returns>The layout.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not in [1, 32768].</exception>
    /// <exception cref="ArgumentException"><paramref name="start"/> is not 16-byte aligned, or the areas wrap past 2^64.</exception>
    public static PackedQueueLayout Contiguous(int size, GuestAddress start)
    {
        if (!IsValidSize(size))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(size), "A packed queue size is in [1, 32768].");
        }

        if (!start.TryAdd(ContiguousBytes(size), out _))
        {
            ThrowHelper.ThrowArgument(nameof(start), "The queue areas wrap past the top of the guest address space.");
        }

        GuestAddress driverArea = new(start.Value + DescriptorRingBytes(size));
        GuestAddress deviceArea = new(driverArea.Value + EventSuppressionBytes);
        return new PackedQueueLayout(size, start, driverArea, deviceArea);
    }

    /// <summary>Tells whether <paramref name="size"/> is a valid packed queue size: [1, 32768], any value.</summary>
    /// <param name="size">The candidate size.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsValidSize(int size) => (uint)(size - 1) < MaxSize;

    /// <summary>Gets the bytes of the descriptor ring for a queue of <paramref name="size"/>: 16 × size.</summary>
    /// <param name="size">The queue size, in [1, 32768].</param>
    /// <returns>The ring size in bytes.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not in [1, 32768].</exception>
    public static ulong DescriptorRingBytes(int size)
    {
        if (!IsValidSize(size))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(size), "A packed queue size is in [1, 32768].");
        }

        return (ulong)size * Descriptor.Size;
    }

    /// <summary>Gets the bytes <see cref="Contiguous"/> uses: the ring and both event suppression structures.</summary>
    /// <param name="size">The queue size, in [1, 32768].</param>
    /// <returns>The total size in bytes.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not in [1, 32768].</exception>
    public static ulong ContiguousBytes(int size) => DescriptorRingBytes(size) + (2 * EventSuppressionBytes);
}
