using System;
using System.Diagnostics;
using VirtioRing.Memory;

namespace VirtioRing.Queues.Packed;

/// <summary>
/// The driver side of a packed virtqueue (virtio 1.2 §2.8): writes chains of buffers into the
/// descriptor ring, exposes them to the device, and reclaims the used descriptors the device
/// writes back over them.
/// </summary>
/// <remarks>
/// <para>Buffer ids come from a private free list, and everything known about an outstanding buffer
/// (token, ring slots, writable capacity) is kept here, never read back from guest memory. The
/// device is untrusted: a used id that is not outstanding is <see cref="VirtqueueFault.InvalidUsedId"/>,
/// a used length above the buffer's writable capacity is <see cref="VirtqueueFault.InvalidUsedLength"/>;
/// either breaks the queue.</para>
/// <para>A used descriptor's length counts only when its WRITE flag is set (§2.8.4: otherwise it is
/// reserved and ignored by drivers).</para>
/// <para>Under IN_ORDER a used descriptor with id X completes every buffer added before X as well
/// (§2.8.8); <see cref="TryReclaimUsed"/> returns them one per call, with length 0, then X.</para>
/// </remarks>
[DebuggerDisplay("packed driver size={Size} avail={_nextAvail}/{_availWrap} used={_nextUsed}/{_usedWrap} outstanding={Outstanding} fault={Fault}")]
public sealed unsafe partial class PackedDriverQueue : IDriverQueue
{
    private readonly PackedQueueLayout _layout;
    private readonly int _size;
    private readonly bool _eventIndex;
    private readonly byte* _ring;
    private readonly byte* _driverEvent;
    private readonly byte* _deviceEvent;
    private readonly byte* _indirectTables;   // null when indirect tables are off
    private readonly ulong _indirectArea;     // guest address of the tables
    private readonly int _maxIndirect;        // entries per table; 0 when off

    // Per buffer id: what the driver needs to take it back.
    private readonly IdState[] _ids;
    private readonly ushort[] _freeIds;
    private readonly ushort[]? _addOrder;     // IN_ORDER: outstanding ids in add order (a FIFO)

    private int _freeIdCount;
    private int _freeSlots;
    private int _outstandingCount;
    private VirtqueueFault _fault;

    /// <summary>Creates the driver side of a packed queue and zeroes its ring and event suppression structures.</summary>
    /// <param name="memory">The guest memory holding the ring, the indirect tables and the buffers.</param>
    /// <param name="layout">Where the ring and the event suppression structures are.</param>
    /// <param name="features">The negotiated ring features.</param>
    /// <param name="options">Indirect table settings; <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="ArgumentException">The layout is a default value, a ring area or the indirect table area is not wholly inside one region, or the indirect table area is not 16-byte aligned.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="DriverQueueOptions.MaxIndirectSegments"/> is negative.</exception>
    public PackedDriverQueue(GuestMemory memory, PackedQueueLayout layout, VirtqueueFeatures features, DriverQueueOptions? options = null)
    {
        if (memory is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(memory));
        }

        if (!PackedQueueLayout.IsValidSize(layout.Size))
        {
            ThrowHelper.ThrowArgument(nameof(layout), "The layout is not initialized (size 0).");
        }

        options ??= DriverQueueOptions.Default;
        if (options.MaxIndirectSegments < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options), "MaxIndirectSegments cannot be negative.");
        }

        _layout = layout;
        _size = layout.Size;
        Memory = memory;
        Features = features;
        _eventIndex = (features & VirtqueueFeatures.EventIndex) != 0;

        ulong ringBytes = PackedQueueLayout.DescriptorRingBytes(_size);
        _ring = TranslateOrThrow(memory, layout.DescriptorRing, ringBytes, nameof(layout), "descriptor ring");
        _driverEvent = TranslateOrThrow(memory, layout.DriverEventSuppression, PackedQueueLayout.EventSuppressionBytes, nameof(layout), "driver event suppression structure");
        _deviceEvent = TranslateOrThrow(memory, layout.DeviceEventSuppression, PackedQueueLayout.EventSuppressionBytes, nameof(layout), "device event suppression structure");

        // The descriptor ring is zero-initialized (§2.8.13); zeroed event structures read as ENABLE.
        new Span<byte>(_ring, (int)ringBytes).Clear();
        new Span<byte>(_driverEvent, PackedQueueLayout.EventSuppressionBytes).Clear();
        new Span<byte>(_deviceEvent, PackedQueueLayout.EventSuppressionBytes).Clear();

        if ((features & VirtqueueFeatures.IndirectDescriptors) != 0 && options.MaxIndirectSegments > 0)
        {
            if (!options.IndirectTableArea.IsAligned(Descriptor.Size))
            {
                ThrowHelper.ThrowArgument(nameof(options), "The indirect table area must be 16-byte aligned.");
            }

            _indirectTables = TranslateOrThrow(memory, options.IndirectTableArea, options.IndirectAreaBytes(_size), nameof(options), "indirect table area");
            _indirectArea = options.IndirectTableArea.Value;
            _maxIndirect = options.MaxIndirectSegments;
        }

        _ids = new IdState[_size];
        _freeIds = new ushort[_size];
        _addOrder = (features & VirtqueueFeatures.InOrder) != 0 ? new ushort[_size] : null;
        for (int i = 0; i < _size; i++)
        {
            _freeIds[i] = (ushort)(_size - 1 - i);   // id 0 is handed out first
        }

        _freeIdCount = _size;
        _freeSlots = _size;
        _availWrap = true;
        _usedWrap = true;
        _publishedAvailWrap = true;
    }

    /// <inheritdoc/>
    public int Size => _size;

    /// <inheritdoc/>
    public VirtqueueFeatures Features { get; }

    /// <inheritdoc/>
    public GuestMemory Memory { get; }

    /// <summary>Gets the layout the queue was created with.</summary>
    public PackedQueueLayout Layout => _layout;

    /// <inheritdoc/>
    public VirtqueueFault Fault => _fault;

    /// <inheritdoc/>
    public bool IsBroken => _fault != VirtqueueFault.None;

    /// <inheritdoc/>
    /// <remarks>Ring slots not occupied by outstanding chains (an indirect chain occupies one).</remarks>
    public int FreeDescriptors => _freeSlots;

    /// <inheritdoc/>
    public int Outstanding => _outstandingCount;

    private static byte* TranslateOrThrow(GuestMemory memory, GuestAddress address, ulong length, string paramName, string what)
    {
        GuestMemoryStatus status = memory.TryTranslate(address.Value, length, out byte* host);
        if (status != GuestMemoryStatus.Ok)
        {
            ThrowHelper.ThrowArgument(paramName, $"The {what} at {address} ({length} bytes) is not wholly inside one guest memory region: {status}.");
        }

        return host;
    }

    /// <summary>What the driver remembers about a buffer id: one entry, so add and reclaim touch one cache line.</summary>
    private struct IdState
    {
        public ulong Token;
        public uint WritableLength;
        public ushort Slots;   // ring slots taken; 0 when the id is not outstanding
        public uint AddEpoch;   // _publishEpoch when the chain was added: equal to the current epoch means not yet published
    }
}
