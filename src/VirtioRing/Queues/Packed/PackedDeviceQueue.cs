using System;
using System.Diagnostics;
using VirtioRing.Memory;

namespace VirtioRing.Queues.Packed;

/// <summary>
/// The device side of a packed virtqueue (virtio 1.2 §2.8): pops the chains the driver made
/// available in the descriptor ring, pushes them back as used descriptors written over the same
/// ring, and honours the driver's event suppression structure.
/// </summary>
/// <remarks>
/// <para>The ring and both event suppression structures are translated once, at construction and
/// whenever <see cref="Memory"/> is set; if one is not wholly inside one guest memory region the
/// queue starts (or turns) broken with <see cref="VirtqueueFault.RingOutOfRange"/> instead of throwing.</para>
/// <para>Choices where the spec leaves room, each a fault that breaks the queue:</para>
/// <list type="bullet">
/// <item>The buffer id is taken from the last descriptor of a chain (§2.8.6: "Buffer ID is included in
/// the last descriptor in the list"). An id not below the queue size is
/// <see cref="VirtqueueFault.DescriptorIndexOutOfRange"/>; an id already in flight is
/// <see cref="VirtqueueFault.TooManyInFlight"/> (the driver reused a buffer it had not got back).</item>
/// <item>An indirect descriptor must be a list on its own (§2.8.7: "each list only contains descriptors
/// of a given type"): INDIRECT with NEXT, or after a NEXT, is <see cref="VirtqueueFault.IndirectNotAllowed"/>.
/// Inside an indirect table the entries are read in sequence; their NEXT flag and id are reserved and
/// ignored (§2.8.7), but an INDIRECT flag there is <see cref="VirtqueueFault.NestedIndirect"/>.</item>
/// <item>A chain whose later descriptors are not yet available (a driver that exposed the head before
/// the rest, against §2.8.6) is not consumed: the pop answers <see cref="PopStatus.Empty"/> and reads
/// it again next time.</item>
/// <item>More ring slots in flight than the queue size (the driver re-exposed slots the device has not
/// used yet) is <see cref="VirtqueueFault.TooManyInFlight"/>.</item>
/// </list>
/// <para>Once broken, the queue writes nothing more to guest memory: pushes only release chains,
/// <see cref="PublishUsed"/> publishes nothing and no notification is due, until <see cref="Reset"/>.</para>
/// </remarks>
[DebuggerDisplay("packed device size={Size} avail={_nextAvail}/{_availWrap} used={_nextUsed}/{_usedWrap} inFlight={InFlight} fault={Fault}")]
public sealed unsafe partial class PackedDeviceQueue : IDeviceQueue
{
    private readonly PackedQueueLayout _layout;
    private readonly ChainArena _arena;
    private readonly bool[] _idHeld;      // buffer ids popped and not yet pushed
    private readonly ushort[]? _popOrder; // IN_ORDER: arena slots in pop order (a FIFO)
    private readonly int _size;
    private readonly bool _indirect;
    private readonly bool _eventIndex;
    private readonly bool _inOrder;

    private GuestMemory _memory;
    private byte* _ring;
    private byte* _driverEvent;
    private byte* _deviceEvent;
    private VirtqueueFault _fault;
    private GuestWriteLog? _writeLog;

    /// <summary>Creates the device side of a packed queue over a driver's ring.</summary>
    /// <param name="memory">The guest memory holding the ring and the buffers.</param>
    /// <param name="layout">Where the ring and the event suppression structures are.</param>
    /// <param name="features">The negotiated ring features.</param>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="layout"/> is a default (size 0) value.</exception>
    public PackedDeviceQueue(GuestMemory memory, PackedQueueLayout layout, VirtqueueFeatures features)
    {
        if (memory is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(memory));
        }

        if (!PackedQueueLayout.IsValidSize(layout.Size))
        {
            ThrowHelper.ThrowArgument(nameof(layout), "The layout is not initialized (size 0).");
        }

        _layout = layout;
        _size = layout.Size;
        Features = features;
        _indirect = (features & VirtqueueFeatures.IndirectDescriptors) != 0;
        _eventIndex = (features & VirtqueueFeatures.EventIndex) != 0;
        _inOrder = (features & VirtqueueFeatures.InOrder) != 0;
        _memory = memory;
        _arena = new ChainArena(memory, _size);
        _idHeld = new bool[_size];
        _popOrder = _inOrder ? new ushort[_size] : null;
        ResetPositions(true, true);
        TranslateAreas();
    }

    /// <inheritdoc/>
    public int Size => _size;

    /// <inheritdoc/>
    public VirtqueueFeatures Features { get; }

    /// <summary>Gets the layout the queue was created with.</summary>
    public PackedQueueLayout Layout => _layout;

    /// <inheritdoc/>
    /// <exception cref="ArgumentNullException">The value is null.</exception>
    /// <remarks>Setting it translates the ring areas again; if they no longer fit, the queue turns broken with <see cref="VirtqueueFault.RingOutOfRange"/>.</remarks>
    public GuestMemory Memory
    {
        get => _memory;
        set
        {
            if (value is null)
            {
                ThrowHelper.ThrowArgumentNull(nameof(value));
            }

            _memory = value;
            _arena.Memory = value;
            TranslateAreas();
        }
    }

    /// <summary>
    /// Gets or sets the log told of every guest write the queue makes (dirty-page logging for live
    /// migration), or null (the default: one null check per push, publish and notification change).
    /// </summary>
    /// <remarks>
    /// Reported: the first written-length bytes of each pushed chain's writable buffers (at
    /// <see cref="PushUsed"/>, after the caller filled them), each used descriptor written into the
    /// descriptor ring (by guest-physical address, after its flags are stored), and the device event
    /// suppression stores as device-area offsets. Set it while no thread drives the queue.
    /// </remarks>
    public GuestWriteLog? WriteLog
    {
        get => _writeLog;
        set => _writeLog = value;
    }

    /// <inheritdoc/>
    public VirtqueueFault Fault => _fault;

    /// <inheritdoc/>
    public bool IsBroken => _fault != VirtqueueFault.None;

    /// <inheritdoc/>
    public int InFlight => _arena.InFlight;

    /// <inheritdoc/>
    /// <remarks>
    /// Reports the positions after every pushed element, published or not: call
    /// <see cref="PublishUsed"/> before saving so the driver has seen them.
    /// </remarks>
    public QueueState SaveState() => new(_nextAvail, _nextUsed, _availWrap, _usedWrap);

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">A position is not below the queue size.</exception>
    /// <exception cref="ArgumentException">The used position is ahead of the avail position, or behind it by more than the queue size.</exception>
    public void RestoreState(QueueState state)
    {
        if (state.NextAvail >= _size)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(state), "NextAvail is not below the queue size.");
        }

        if (state.NextUsed >= _size)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(state), "NextUsed is not below the queue size.");
        }

        // Slots between the used and the avail position are in flight: in [0, size].
        int outstanding = state.AvailWrapCounter == state.UsedWrapCounter
            ? state.NextAvail - state.NextUsed
            : state.NextAvail + _size - state.NextUsed;
        if (outstanding < 0 || outstanding > _size)
        {
            ThrowHelper.ThrowArgument(nameof(state), "The used position must trail the avail position by at most the queue size.");
        }

        _arena.Reset();
        ResetPositions(state.AvailWrapCounter, state.UsedWrapCounter);
        _nextAvail = state.NextAvail;
        _nextUsed = state.NextUsed;
        _publishedUsed = state.NextUsed;
        _slotsOutstanding = outstanding;
    }

    /// <inheritdoc/>
    /// <remarks>The ring areas are translated again; if they do not fit the queue stays broken with <see cref="VirtqueueFault.RingOutOfRange"/>.</remarks>
    public void Reset()
    {
        _arena.Reset();
        ResetPositions(true, true);
        _fault = VirtqueueFault.None;
        TranslateAreas();
    }

    private void ResetPositions(bool availWrap, bool usedWrap)
    {
        _nextAvail = 0;
        _availWrap = availWrap;
        _slotsOutstanding = 0;
        _nextUsed = 0;
        _usedWrap = usedWrap;
        _firstPending = false;
        _pushedBuffers = 0;
        _pushedSlots = 0;
        _runOpen = false;
        _popOrderHead = 0;
        _popOrderCount = 0;
        _publishedUsed = 0;
        _publishedUsedWrap = usedWrap;
        _usedSinceSignal = 0;
        Array.Clear(_idHeld, 0, _idHeld.Length);
    }

    private void TranslateAreas()
    {
        _ring = null;
        _driverEvent = null;
        _deviceEvent = null;
        GuestMemory memory = _memory;
        if (memory.TryTranslate(_layout.DescriptorRing.Value, PackedQueueLayout.DescriptorRingBytes(_size), out byte* ring) == GuestMemoryStatus.Ok
            && memory.TryTranslate(_layout.DriverEventSuppression.Value, PackedQueueLayout.EventSuppressionBytes, out byte* driverEvent) == GuestMemoryStatus.Ok
            && memory.TryTranslate(_layout.DeviceEventSuppression.Value, PackedQueueLayout.EventSuppressionBytes, out byte* deviceEvent) == GuestMemoryStatus.Ok
            // The host pointers must keep the guest alignment (as the split queue checks): flags
            // and event fields are accessed atomically, which a field straddling a cache line is not.
            && ((ulong)ring & 15) == 0 && ((ulong)driverEvent & 3) == 0 && ((ulong)deviceEvent & 3) == 0)
        {
            _ring = ring;
            _driverEvent = driverEvent;
            _deviceEvent = deviceEvent;
            return;
        }

        if (_fault == VirtqueueFault.None)
        {
            _fault = VirtqueueFault.RingOutOfRange;
        }
    }
}
