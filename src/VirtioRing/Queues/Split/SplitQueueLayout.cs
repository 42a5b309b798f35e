using System;
using System.Diagnostics;
using VirtioRing.Memory;

namespace VirtioRing.Queues.Split;

/// <summary>
/// Where the three areas of a split virtqueue live in guest memory (virtio 1.2 §2.7): the
/// descriptor table (16 bytes per descriptor, 16-aligned), the available ring
/// (<c>flags, idx, ring[n], used_event</c>: 6 + 2n bytes, 2-aligned) and the used ring
/// (<c>flags, idx, ring[n] of {id, len}, avail_event</c>: 6 + 8n bytes, 4-aligned).
/// </summary>
/// <remarks>
/// A layout only describes addresses; it does not check that they are mapped. The queues translate
/// the areas when they are built (a device queue whose areas are not wholly inside one region each
/// starts broken with <see cref="VirtqueueFault.RingOutOfRange"/>). <c>default</c> is not a valid
/// layout (its size is zero).
/// </remarks>
[DebuggerDisplay("size={Size} desc={DescriptorTable} avail={AvailableRing} used={UsedRing}")]
public readonly struct SplitQueueLayout : IEquatable<SplitQueueLayout>
{
    /// <summary>The largest split queue size (§2.7: "Queue Size ... maximum 32768").</summary>
    public const int MaxSize = 32768;

    /// <summary>The alignment the descriptor table needs (§2.7, table "Virtqueue Part Alignment").</summary>
    public const int DescriptorTableAlignment = 16;

    /// <summary>The alignment the available ring needs.</summary>
    public const int AvailableRingAlignment = 2;

    /// <summary>The alignment the used ring needs.</summary>
    public const int UsedRingAlignment = 4;

    /// <summary>Creates a layout from three separately placed areas (the virtio 1.x way).</summary>
    /// <param name="size">The queue size: a power of two in [1, 32768].</param>
    /// <param name="descriptorTable">The descriptor table's guest address, 16-aligned.</param>
    /// <param name="availableRing">The available ring's guest address, 2-aligned.</param>
    /// <param name="usedRing">The used ring's guest address, 4-aligned.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is not a power of two in [1, 32768].</exception>
    /// <exception cref="ArgumentException">An area is not aligned as the spec requires.</exception>
    public SplitQueueLayout(int size, GuestAddress descriptorTable, GuestAddress availableRing, GuestAddress usedRing)
    {
        if (!IsValidSize(size))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(size), "A split queue size is a power of two in [1, 32768].");
        }

        if (!descriptorTable.IsAligned(DescriptorTableAlignment))
        {
            ThrowHelper.ThrowArgument(nameof(descriptorTable), "The descriptor table must be 16-byte aligned.");
        }

        if (!availableRing.IsAligned(AvailableRingAlignment))
        {
            ThrowHelper.ThrowArgument(nameof(availableRing), "The available ring must be 2-byte aligned.");
        }

        if (!usedRing.IsAligned(UsedRingAlignment))
        {
            ThrowHelper.ThrowArgument(nameof(usedRing), "The used ring must be 4-byte aligned.");
        }

        Size = size;
        DescriptorTable = descriptorTable;
        AvailableRing = availableRing;
        UsedRing = usedRing;
    }

    /// <summary>Gets the queue size (number of descriptors and ring slots).</summary>
    public int Size { get; }

    /// <summary>Gets the guest address of the descriptor table.</summary>
    public GuestAddress DescriptorTable { get; }

    /// <summary>Gets the guest address of the available (driver) ring.</summary>
    public GuestAddress AvailableRing { get; }

    /// <summary>Gets the guest address of the used (device) ring.</summary>
    public GuestAddress UsedRing { get; }

    /// <summary>Tells whether <paramref name="size"/> is a valid split queue size: a power of two in [1, 32768].</summary>
    /// <param name="size">The candidate size.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsValidSize(int size) => size is > 0 and <= MaxSize && (size & (size - 1)) == 0;

    /// <summary>Gets the bytes of the descriptor table: 16 × <paramref name="size"/>.</summary>
    /// <param name="size">The queue size.</param>
    /// <returns>The area size in bytes.</returns>
    public static ulong DescriptorTableBytes(int size) => 16UL * (uint)size;

    /// <summary>Gets the bytes of the available ring, <c>used_event</c> included: 6 + 2 × <paramref name="size"/>.</summary>
    /// <param name="size">The queue size.</param>
    /// <returns>The area size in bytes.</returns>
    public static ulong AvailableRingBytes(int size) => 6UL + (2UL * (uint)size);

    /// <summary>Gets the bytes of the used ring, <c>avail_event</c> included: 6 + 8 × <paramref name="size"/>.</summary>
    /// <param name="size">The queue size.</param>
    /// <returns>The area size in bytes.</returns>
    public static ulong UsedRingBytes(int size) => 6UL + (8UL * (uint)size);

    /// <summary>
    /// Gets the bytes a <see cref="Contiguous"/> layout occupies: the descriptor table, the available
    /// ring right after it, padding up to <paramref name="usedAlignment"/>, then the used ring
    /// (legacy <c>vring_size</c>, §2.7.2 "Legacy Interfaces").
    /// </summary>
    /// <param name="size">The queue size: a power of two in [1, 32768].</param>
    /// <param name="usedAlignment">The used ring's alignment: a power of two, at least 4 (legacy: 4096).</param>
    /// <returns>The bytes from the start of the descriptor table to the end of the used ring.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> or <paramref name="usedAlignment"/> is invalid.</exception>
    public static ulong ContiguousBytes(int size, ulong usedAlignment = 4096) =>
        ContiguousUsedOffset(size, usedAlignment) + UsedRingBytes(size);

    /// <summary>
    /// Places the three areas one after the other from <paramref name="start"/>, as legacy
    /// (pre-1.0) devices require: descriptor table, available ring, then the used ring at the next
    /// multiple of <paramref name="usedAlignment"/> from <paramref name="start"/>.
    /// </summary>
    /// <param name="size">The queue size: a power of two in [1, 32768].</param>
    /// <param name="start">The guest address of the descriptor table, 16-aligned (legacy: page-aligned).</param>
    /// <param name="usedAlignment">The used ring's alignment: a power of two, at least 4 (legacy: 4096).</param>
    /// <returns>The layout; it spans <see cref="ContiguousBytes"/> bytes.</returns>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="size"/> or <paramref name="usedAlignment"/> is invalid, or the areas would run past 2^64.
    /// </exception>
    /// <exception cref="ArgumentException"><paramref name="start"/> is not 16-aligned.</exception>
    public static SplitQueueLayout Contiguous(int size, GuestAddress start, ulong usedAlignment = 4096)
    {
        ulong usedOffset = ContiguousUsedOffset(size, usedAlignment);
        if (!start.TryAdd(usedOffset + UsedRingBytes(size), out _))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(start), "The rings would run past the top of the guest address space.");
        }

        return new SplitQueueLayout(
            size,
            start,
            new GuestAddress(start.Value + DescriptorTableBytes(size)),
            new GuestAddress(start.Value + usedOffset));
    }

    /// <summary>
    /// Creates a layout from values the guest wrote (queue registers, <c>SET_VRING_ADDR</c>) without
    /// throwing: the same checks as the constructor.
    /// </summary>
    /// <param name="size">The queue size.</param>
    /// <param name="descriptorTable">The descriptor table's guest address.</param>
    /// <param name="availableRing">The available ring's guest address.</param>
    /// <param name="usedRing">The used ring's guest address.</param>
    /// <param name="layout">The layout, when valid.</param>
    /// <returns><see langword="false"/> when the size or an alignment is invalid.</returns>
    public static bool TryCreate(int size, GuestAddress descriptorTable, GuestAddress availableRing, GuestAddress usedRing, out SplitQueueLayout layout)
    {
        if (!IsValidSize(size) || !descriptorTable.IsAligned(DescriptorTableAlignment) ||
            !availableRing.IsAligned(AvailableRingAlignment) || !usedRing.IsAligned(UsedRingAlignment))
        {
            layout = default;
            return false;
        }

        layout = new SplitQueueLayout(size, descriptorTable, availableRing, usedRing);
        return true;
    }

    /// <inheritdoc/>
    public bool Equals(SplitQueueLayout other) =>
        Size == other.Size && DescriptorTable == other.DescriptorTable &&
        AvailableRing == other.AvailableRing && UsedRing == other.UsedRing;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SplitQueueLayout other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => (Size, DescriptorTable, AvailableRing, UsedRing).GetHashCode();

    /// <summary>Compares two layouts.</summary>
    /// <param name="left">The first layout.</param>
    /// <param name="right">The second layout.</param>
    /// <returns><see langword="true"/> when equal.</returns>
    public static bool operator ==(SplitQueueLayout left, SplitQueueLayout right) => left.Equals(right);

    /// <summary>Compares two layouts.</summary>
    /// <param name="left">The first layout.</param>
    /// <param name="right">The second layout.</param>
    /// <returns><see langword="true"/> when different.</returns>
    public static bool operator !=(SplitQueueLayout left, SplitQueueLayout right) => !left.Equals(right);

    private static ulong ContiguousUsedOffset(int size, ulong usedAlignment)
    {
        if (!IsValidSize(size))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(size), "A split queue size is a power of two in [1, 32768].");
        }

        if (usedAlignment < UsedRingAlignment || (usedAlignment & (usedAlignment - 1)) != 0 || usedAlignment > (1UL << 32))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(usedAlignment), "The used ring alignment is a power of two in [4, 2^32].");
        }

        // Small numbers only (size <= 32768, alignment <= 2^32): none of this can wrap.
        ulong end = DescriptorTableBytes(size) + AvailableRingBytes(size);
        return (end + usedAlignment - 1) & ~(usedAlignment - 1);
    }
}
