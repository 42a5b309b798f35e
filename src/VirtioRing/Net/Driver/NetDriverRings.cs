using System;
using System.Collections.Generic;
using System.Diagnostics;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;

namespace VirtioRing.Net.Driver;

/// <summary>
/// Lays out the virtqueues of a virtio-net device in guest memory — N receive/transmit pairs and,
/// with <c>VIRTIO_NET_F_CTRL_VQ</c>, the control queue — split or packed as negotiated, and creates
/// their driver queues. The device side is built over the same addresses: each <see cref="NetRing"/>
/// exposes its layout, its three area addresses, and <see cref="NetRing.CreateDeviceQueue"/>.
/// </summary>
/// <remarks>
/// <para>Placement, from <c>start</c>, queue by queue in virtio order (receiveq1, transmitq1, …,
/// controlq): the rings (split: descriptor table, available ring, used ring; packed: descriptor ring
/// and both event suppression structures), each area aligned as §2.7/§2.8.10.1 require and every queue
/// starting on a 64-byte boundary, followed, when indirect tables are used, by the queue's indirect
/// table area (<c>size × maxIndirectSegments × 16</c> bytes).</para>
/// <para>Use <see cref="GetRequiredBytes"/> to size the area first.</para>
/// </remarks>
/// <example>
/// In-process glue: the driver and a device over the same rings.
/// <code>
/// NetFeatures accepted = driver.Negotiate(device.OfferedFeatures);
/// device.SetDriverFeatures(accepted);
/// var rings = NetDriverRings.Create(memory, ringArea, ringBytes, pairs, 256, accepted);
/// for (int i = 0; i &lt; rings.Count; i++)
/// {
///     device.SetQueue(i, rings[i].CreateDeviceQueue(), callNotifier);   // or build from rings[i].DescriptorArea/DriverArea/DeviceArea
/// }
/// driver.Bind(rings, kicks);   // kicks[i].Notify() → device.Kick(i)
/// </code>
/// </example>
[DebuggerDisplay("pairs={QueuePairs} control={HasControlQueue} packed={IsPacked}")]
public sealed class NetDriverRings
{
    private const ulong QueueAlignment = 64;
    private readonly NetRing[] _rings;
    private readonly IDriverQueue[] _drivers;

    private NetDriverRings(NetRing[] rings, int pairs, bool control, bool packed, ulong bytes)
    {
        _rings = rings;
        _drivers = new IDriverQueue[rings.Length];
        for (int i = 0; i < rings.Length; i++)
        {
            _drivers[i] = rings[i].Driver;
        }

        QueuePairs = pairs;
        HasControlQueue = control;
        IsPacked = packed;
        Bytes = bytes;
    }

    /// <summary>Gets the number of receive/transmit queue pairs.</summary>
    public int QueuePairs { get; }

    /// <summary>Gets whether the last queue is the control queue (index 2 × <see cref="QueuePairs"/>).</summary>
    public bool HasControlQueue { get; }

    /// <summary>Gets whether the rings are packed.</summary>
    public bool IsPacked { get; }

    /// <summary>Gets the number of queues.</summary>
    public int Count => _rings.Length;

    /// <summary>Gets the bytes used from the start address.</summary>
    public ulong Bytes { get; }

    /// <summary>Gets the queues in virtio index order.</summary>
    public IReadOnlyList<NetRing> Rings => _rings;

    /// <summary>Gets the driver queues in virtio index order (what <see cref="NetDriver.Bind(IReadOnlyList{IDriverQueue}, IReadOnlyList{Backends.INotifier?})"/> takes).</summary>
    public IReadOnlyList<IDriverQueue> DriverQueues => _drivers;

    /// <summary>Gets a queue by virtio index.</summary>
    /// <param name="index">The index.</param>
    /// <returns>The queue.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not a queue.</exception>
    public NetRing this[int index]
    {
        get
        {
            if ((uint)index >= (uint)_rings.Length)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(index));
            }

            return _rings[index];
        }
    }

    /// <summary>Gets the bytes <see cref="Create"/> needs for the given shape.</summary>
    /// <param name="queuePairs">The number of pairs, at least 1.</param>
    /// <param name="queueSize">The size of each receive and transmit queue.</param>
    /// <param name="negotiated">The negotiated features (<c>RING_PACKED</c>, <c>CTRL_VQ</c>, <c>INDIRECT_DESC</c> matter).</param>
    /// <param name="maxIndirectSegments">The longest chain in one indirect table (0: no tables); used only with <c>INDIRECT_DESC</c>.</param>
    /// <param name="controlQueueSize">The size of the control queue.</param>
    /// <returns>The bytes from the (64-byte aligned) start address.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A count or size is invalid for the ring layout.</exception>
    public static ulong GetRequiredBytes(int queuePairs, int queueSize, NetFeatures negotiated, int maxIndirectSegments = 0, int controlQueueSize = 64)
    {
        Check(queuePairs, queueSize, negotiated, maxIndirectSegments, controlQueueSize);
        bool packed = NetFeatureNegotiation.UsesPackedRings(negotiated);
        int indirect = UsesIndirect(negotiated, maxIndirectSegments) ? maxIndirectSegments : 0;
        ulong total = 2UL * (ulong)queuePairs * QueueBytes(queueSize, packed, indirect);
        if ((negotiated & NetFeatures.CtrlVq) != 0)
        {
            total += QueueBytes(controlQueueSize, packed, 0);
        }

        return total;
    }

    /// <summary>Lays the queues out from <paramref name="start"/> and creates their driver queues (which zero the rings).</summary>
    /// <param name="memory">The guest memory; the whole range must lie in one region.</param>
    /// <param name="start">Where the first ring goes; 64-byte aligned.</param>
    /// <param name="length">The bytes available from <paramref name="start"/>; at least <see cref="GetRequiredBytes"/>.</param>
    /// <param name="queuePairs">The number of pairs, at least 1.</param>
    /// <param name="queueSize">The size of each receive and transmit queue (split: a power of two).</param>
    /// <param name="negotiated">The negotiated features.</param>
    /// <param name="maxIndirectSegments">The longest chain in one indirect table (0: no tables); used only with <c>INDIRECT_DESC</c>.</param>
    /// <param name="controlQueueSize">The size of the control queue (split: a power of two).</param>
    /// <returns>The queues.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count or size is invalid, or <paramref name="length"/> is too small.</exception>
    /// <exception cref="ArgumentException"><paramref name="start"/> is not 64-byte aligned.</exception>
    /// <exception cref="GuestMemoryException">The range is not mapped.</exception>
    public static NetDriverRings Create(GuestMemory memory, GuestAddress start, ulong length, int queuePairs, int queueSize, NetFeatures negotiated,
        int maxIndirectSegments = 0, int controlQueueSize = 64)
    {
        if (memory is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(memory));
        }

        ulong needed = GetRequiredBytes(queuePairs, queueSize, negotiated, maxIndirectSegments, controlQueueSize);
        if (!start.IsAligned(QueueAlignment))
        {
            ThrowHelper.ThrowArgument(nameof(start), "The ring area must be 64-byte aligned.");
        }

        if (length < needed || !start.TryAdd(needed, out _))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(length), "The ring area is too small (see GetRequiredBytes).");
        }

        bool packed = NetFeatureNegotiation.UsesPackedRings(negotiated);
        bool control = (negotiated & NetFeatures.CtrlVq) != 0;
        int indirect = UsesIndirect(negotiated, maxIndirectSegments) ? maxIndirectSegments : 0;
        VirtqueueFeatures features = NetFeatureNegotiation.ToVirtqueueFeatures(negotiated);
        var rings = new NetRing[(2 * queuePairs) + (control ? 1 : 0)];
        ulong offset = 0;
        for (int i = 0; i < rings.Length; i++)
        {
            bool isControl = control && i == rings.Length - 1;
            int size = isControl ? controlQueueSize : queueSize;
            int tables = isControl ? 0 : indirect;
            rings[i] = Place(memory, start.Value + offset, i, size, packed, tables, features);
            offset += QueueBytes(size, packed, tables);
        }

        return new NetDriverRings(rings, queuePairs, control, packed, needed);
    }

    private static NetRing Place(GuestMemory memory, ulong at, int index, int size, bool packed, int indirect, VirtqueueFeatures features)
    {
        ulong ringBytes = RingBytes(size, packed);
        DriverQueueOptions options = indirect > 0
            ? new DriverQueueOptions(new GuestAddress(at + ringBytes), indirect)
            : DriverQueueOptions.Default;
        if (packed)
        {
            PackedQueueLayout layout = PackedQueueLayout.Contiguous(size, new GuestAddress(at));
            return new NetRing(index, features, default, layout, true, new PackedDriverQueue(memory, layout, features, options));
        }

        // Descriptor table, available ring, used ring at the next 4-byte boundary (§2.7 alignment table).
        SplitQueueLayout split = SplitQueueLayout.Contiguous(size, new GuestAddress(at), SplitQueueLayout.UsedRingAlignment);
        return new NetRing(index, features, split, default, false, new SplitDriverQueue(memory, split, features, options));
    }

    private static bool UsesIndirect(NetFeatures negotiated, int maxIndirectSegments) =>
        maxIndirectSegments > 0 && (negotiated & NetFeatures.IndirectDesc) != 0;

    private static ulong RingBytes(int size, bool packed) =>
        Align(packed ? PackedQueueLayout.ContiguousBytes(size) : SplitQueueLayout.ContiguousBytes(size, SplitQueueLayout.UsedRingAlignment));

    private static ulong QueueBytes(int size, bool packed, int indirect) =>
        RingBytes(size, packed) + Align((ulong)size * (ulong)indirect * Descriptor.Size);

    private static ulong Align(ulong bytes) => (bytes + QueueAlignment - 1) & ~(QueueAlignment - 1);

    private static void Check(int queuePairs, int queueSize, NetFeatures negotiated, int maxIndirectSegments, int controlQueueSize)
    {
        if (queuePairs is < 1 or > 0x8000)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queuePairs), "A device has 1 to 0x8000 queue pairs.");
        }

        bool packed = NetFeatureNegotiation.UsesPackedRings(negotiated);
        if (packed ? !PackedQueueLayout.IsValidSize(queueSize) : !SplitQueueLayout.IsValidSize(queueSize))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queueSize), "The queue size is not valid for the ring layout.");
        }

        if ((negotiated & NetFeatures.CtrlVq) != 0 &&
            (packed ? !PackedQueueLayout.IsValidSize(controlQueueSize) : !SplitQueueLayout.IsValidSize(controlQueueSize)))
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(controlQueueSize), "The control queue size is not valid for the ring layout.");
        }

        if (maxIndirectSegments is < 0 or > SplitQueueLayout.MaxSize)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(maxIndirectSegments));
        }
    }
}
