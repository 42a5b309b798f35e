using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using VirtioRing.Memory;

namespace VirtioRing.Queues.Split;

/// <summary>
/// The device side of a split virtqueue (virtio 1.2 §2.7): pops the chains the driver made
/// available, validating every descriptor of a possibly hostile guest, pushes them back as used,
/// and applies flag- or event-index-based notification suppression.
/// </summary>
/// <remarks>
/// <para>The three ring areas are translated once, when the queue is built and when
/// <see cref="Memory"/> is set; the hot path works on host pointers. An area that is not wholly
/// inside one region leaves the queue broken with <see cref="VirtqueueFault.RingOutOfRange"/>
/// instead of throwing, because the addresses come from the guest.</para>
/// <para>A broken queue pops nothing and writes nothing into guest memory: <see cref="PushUsed"/>
/// still releases held chains (so the caller's bookkeeping works) and <see cref="PublishUsed"/>
/// publishes nothing, as QEMU does for a broken device. The device should ask for a reset
/// (<c>DEVICE_NEEDS_RESET</c>).</para>
/// <para>Not thread-safe: one thread drives the queue; the driver may run concurrently in shared memory.</para>
/// </remarks>
[DebuggerDisplay("split device size={Size} nextAvail={_nextAvail} nextUsed={_nextUsed} inFlight={InFlight} fault={Fault}")]
public sealed unsafe partial class SplitDeviceQueue : IDeviceQueue
{
    private readonly ChainArena _arena;
    private readonly uint _mask;
    private readonly bool _indirect;
    private readonly bool _eventIndex;
    private readonly bool _inOrder;

    // IN_ORDER only: the chain-store slot of each popped chain, in pop order, so that pushes can
    // be checked against it (§2.7.9: the device uses buffers in the order they were made available).
    private readonly ushort[]? _popOrder;

    private GuestMemory _memory;
    private byte* _descriptors;
    private byte* _avail;
    private byte* _used;
    private VirtqueueFault _fault;
    private GuestWriteLog? _writeLog;

    private ushort _nextAvail;            // last_avail_idx: the next avail.ring entry to read
    private ushort _availIndex;           // avail.idx as last loaded (a cache: chains [_nextAvail, _availIndex) are known to be there)
    private ushort _nextUsed;             // shadow used.idx: where the next used element goes (not yet visible)
    private ushort _publishedUsed;        // used.idx as last stored
    private ushort _usedAtLastDecision;   // used.idx at the last ShouldNotifyDriver (Linux vhost's signalled_used)
    private bool _notificationsEnabled;

    private ushort _popSequence;          // IN_ORDER: chains popped since the last reset/restore (mod 2^16)
    private ushort _pushSequence;         // IN_ORDER: chains pushed since the last reset/restore (mod 2^16)
    private bool _runOpen;                // IN_ORDER: a used element is being extended by a run of zero-length pushes
    private ushort _runIndex;             // IN_ORDER: the used ring index of that element

    /// <summary>Creates the device side of a split queue over rings the driver placed in guest memory.</summary>
    /// <param name="memory">The guest memory holding the rings and the buffers.</param>
    /// <param name="layout">Where the rings are (from the transport: queue registers, <c>SET_VRING_ADDR</c>).</param>
    /// <param name="features">The negotiated ring features.</param>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="layout"/> is <c>default</c> (size zero).</exception>
    /// <remarks>Rings outside guest memory do not throw: the queue starts broken with <see cref="VirtqueueFault.RingOutOfRange"/>.</remarks>
    public SplitDeviceQueue(GuestMemory memory, SplitQueueLayout layout, VirtqueueFeatures features)
    {
        if (memory is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(memory));
        }

        if (layout.Size == 0)
        {
            ThrowHelper.ThrowArgument(nameof(layout), "The layout is uninitialized (size zero).");
        }

        _memory = memory;
        Layout = layout;
        Features = features;
        _mask = (uint)layout.Size - 1;
        _indirect = (features & VirtqueueFeatures.IndirectDescriptors) != 0;
        _eventIndex = (features & VirtqueueFeatures.EventIndex) != 0;
        _inOrder = (features & VirtqueueFeatures.InOrder) != 0;
        _popOrder = _inOrder ? new ushort[layout.Size] : null;
        _arena = new ChainArena(memory, layout.Size);
        _notificationsEnabled = true;
        TranslateRings();
    }

    /// <inheritdoc/>
    public int Size => Layout.Size;

    /// <summary>Gets where the rings are.</summary>
    public SplitQueueLayout Layout { get; }

    /// <inheritdoc/>
    public VirtqueueFeatures Features { get; }

    /// <inheritdoc/>
    /// <remarks>
    /// Setting it translates the rings again through the new table; if an area is no longer wholly
    /// inside one region the queue turns broken with <see cref="VirtqueueFault.RingOutOfRange"/>.
    /// Held chains keep the translations they were popped with.
    /// </remarks>
    /// <exception cref="ArgumentNullException">The value is null.</exception>
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
            TranslateRings();
        }
    }

    /// <summary>
    /// Gets or sets the log told of every guest write the queue makes (dirty-page logging for live
    /// migration), or null (the default: one null check per push, publish and notification change).
    /// </summary>
    /// <remarks>
    /// Reported: the first written-length bytes of each pushed chain's writable buffers (at
    /// <see cref="PushUsed"/>, after the caller filled them), and the used ring stores (element, idx,
    /// flags, avail_event) as device-area offsets. Set it while no thread drives the queue.
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
    /// <see cref="QueueState.NextAvail"/> is <c>last_avail_idx</c>; <see cref="QueueState.NextUsed"/>
    /// is the used index the next push writes at (publish first: an unpublished push is not in guest memory).
    /// </remarks>
    public QueueState SaveState() => new(_nextAvail, _nextUsed);

    /// <inheritdoc/>
    /// <remarks>The fault, if any, stays: only <see cref="Reset"/> clears it.</remarks>
    public void RestoreState(QueueState state)
    {
        _nextAvail = state.NextAvail;
        _availIndex = state.NextAvail;
        _nextUsed = state.NextUsed;
        _publishedUsed = state.NextUsed;
        _usedAtLastDecision = state.NextUsed;
        ForgetHeldChains();
    }

    /// <inheritdoc/>
    /// <remarks>The rings are translated again, so a queue broken by <see cref="VirtqueueFault.RingOutOfRange"/> recovers if they are now mapped.</remarks>
    public void Reset()
    {
        _fault = VirtqueueFault.None;
        _nextAvail = 0;
        _availIndex = 0;
        _nextUsed = 0;
        _publishedUsed = 0;
        _usedAtLastDecision = 0;
        _notificationsEnabled = true;
        ForgetHeldChains();
        TranslateRings();
    }

    private void ForgetHeldChains()
    {
        _arena.Reset();
        _popSequence = 0;
        _pushSequence = 0;
        _runOpen = false;
    }

    /// <summary>Translates the three ring areas; on failure the queue turns broken and keeps no pointer.</summary>
    private void TranslateRings()
    {
        int size = Layout.Size;
        if (Translate(Layout.DescriptorTable, SplitQueueLayout.DescriptorTableBytes(size), SplitQueueLayout.DescriptorTableAlignment, out byte* descriptors) &&
            Translate(Layout.AvailableRing, SplitQueueLayout.AvailableRingBytes(size), SplitQueueLayout.AvailableRingAlignment, out byte* avail) &&
            Translate(Layout.UsedRing, SplitQueueLayout.UsedRingBytes(size), SplitQueueLayout.UsedRingAlignment, out byte* used))
        {
            _descriptors = descriptors;
            _avail = avail;
            _used = used;
            return;
        }

        _descriptors = null;
        _avail = null;
        _used = null;
        if (_fault == VirtqueueFault.None)
        {
            _fault = VirtqueueFault.RingOutOfRange;
        }
    }

    private bool Translate(GuestAddress address, ulong length, int alignment, out byte* host)
    {
        // The host pointer must keep the guest alignment: the index fields are accessed with
        // acquire/release, which some CPUs only allow on naturally aligned addresses.
        return _memory.TryTranslate(address.Value, length, out host) == GuestMemoryStatus.Ok &&
            ((ulong)host & (ulong)(alignment - 1)) == 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private PopStatus Fail(VirtqueueFault fault)
    {
        Debug.Assert(fault != VirtqueueFault.None, "a failure needs a fault");
        _fault = fault;
        return PopStatus.Broken;
    }
}
