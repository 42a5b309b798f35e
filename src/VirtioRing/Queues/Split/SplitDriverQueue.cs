using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtioRing.Memory;

namespace VirtioRing.Queues.Split;

/// <summary>
/// The driver side of a split virtqueue (virtio 1.2 §2.7): adds chains of buffers to the
/// descriptor table and the available ring, publishes them, and reclaims what the device used.
/// </summary>
/// <remarks>
/// <para>The free-descriptor list and every chain's bookkeeping live in private arrays, never in
/// guest memory, so a device that scribbles on the descriptor table cannot corrupt the driver. Used
/// ids and lengths are validated; a bad one breaks the queue with a <see cref="Fault"/>.</para>
/// <para>Indirect tables: when <see cref="VirtqueueFeatures.IndirectDescriptors"/> is negotiated and
/// <see cref="DriverQueueOptions.MaxIndirectSegments"/> is positive, a chain of 2 to
/// <c>MaxIndirectSegments</c> segments takes one ring descriptor pointing to the table slot
/// <c>IndirectTableArea + head × MaxIndirectSegments × 16</c>.</para>
/// <para>Not thread-safe: one thread drives the queue; the device may run concurrently.</para>
/// </remarks>
[DebuggerDisplay("split driver size={Size} free={FreeDescriptors} outstanding={Outstanding} fault={Fault}")]
public sealed unsafe partial class SplitDriverQueue : IDriverQueue
{
    private readonly uint _mask;
    private readonly bool _eventIndex;
    private readonly bool _inOrder;
    private readonly int _maxIndirect;             // 0: no indirect tables
    private readonly ulong _indirectBase;          // guest address of the indirect table area
    private readonly byte* _indirectTables;        // host address of the same
    private readonly byte* _descriptors;
    private readonly byte* _avail;
    private readonly byte* _used;

    private readonly ushort[] _next;               // free list and chain links (the driver's own copy of `next`)
    private readonly HeadState[] _heads;           // per chain head: token, capacity, descriptors
    private readonly ushort[]? _availCopy;         // IN_ORDER: the head placed at each avail ring slot

    private ushort _freeHead;
    private int _freeCount;
    private int _outstanding;
    private VirtqueueFault _fault;

    private ushort _nextAvail;                     // shadow avail.idx: where the next head goes
    private ushort _publishedAvail;                // avail.idx as last stored
    private uint _publishEpoch;                    // counts publishes that exposed chains; see IsPublished
    private ushort _availAtLastDecision;           // avail.idx at the last ShouldNotifyDevice
    private ushort _nextUsed;                      // last_used_idx: the next used element to read
    private ushort _usedIndex;                     // used.idx as last loaded (a cache)
    private bool _usedNotificationsEnabled;

    private bool _batchOpen;                       // IN_ORDER: a used element covering several chains is being handed out
    private ushort _batchLastId;
    private uint _batchLastLength;

    /// <summary>Creates the driver side of a split queue and zeroes its three ring areas.</summary>
    /// <param name="memory">The guest memory holding the rings and the buffers.</param>
    /// <param name="layout">Where to place the rings.</param>
    /// <param name="features">The negotiated ring features.</param>
    /// <param name="options">Indirect table settings; <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="layout"/> is <c>default</c>, or a ring or the indirect area is not aligned in host memory, or the indirect area is not 16-aligned.
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="DriverQueueOptions.MaxIndirectSegments"/> is negative.</exception>
    /// <exception cref="GuestMemoryException">A ring, or the indirect table area, is not wholly inside one region.</exception>
    public SplitDriverQueue(GuestMemory memory, SplitQueueLayout layout, VirtqueueFeatures features, DriverQueueOptions? options = null)
    {
        if (memory is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(memory));
        }

        if (layout.Size == 0)
        {
            ThrowHelper.ThrowArgument(nameof(layout), "The layout is uninitialized (size zero).");
        }

        options ??= DriverQueueOptions.Default;
        if (options.MaxIndirectSegments < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options), "MaxIndirectSegments cannot be negative.");
        }

        int size = layout.Size;
        Memory = memory;
        Layout = layout;
        Features = features;
        _mask = (uint)size - 1;
        _eventIndex = (features & VirtqueueFeatures.EventIndex) != 0;
        _inOrder = (features & VirtqueueFeatures.InOrder) != 0;

        _descriptors = TranslateRing(memory, layout.DescriptorTable, SplitQueueLayout.DescriptorTableBytes(size), SplitQueueLayout.DescriptorTableAlignment);
        _avail = TranslateRing(memory, layout.AvailableRing, SplitQueueLayout.AvailableRingBytes(size), SplitQueueLayout.AvailableRingAlignment);
        _used = TranslateRing(memory, layout.UsedRing, SplitQueueLayout.UsedRingBytes(size), SplitQueueLayout.UsedRingAlignment);
        new Span<byte>(_descriptors, (int)SplitQueueLayout.DescriptorTableBytes(size)).Clear();
        new Span<byte>(_avail, (int)SplitQueueLayout.AvailableRingBytes(size)).Clear();
        new Span<byte>(_used, (int)SplitQueueLayout.UsedRingBytes(size)).Clear();

        if ((features & VirtqueueFeatures.IndirectDescriptors) != 0 && options.MaxIndirectSegments > 0)
        {
            if (!options.IndirectTableArea.IsAligned(Descriptor.Size))
            {
                ThrowHelper.ThrowArgument(nameof(options), "The indirect table area must be 16-byte aligned.");
            }

            _indirectTables = TranslateRing(memory, options.IndirectTableArea, options.IndirectAreaBytes(size), 1);
            _indirectBase = options.IndirectTableArea.Value;
            _maxIndirect = options.MaxIndirectSegments;
        }

        _next = new ushort[size];
        _heads = new HeadState[size];
        _availCopy = _inOrder ? new ushort[size] : null;
        for (int i = 0; i < size; i++)
        {
            _next[i] = (ushort)((i + 1) & (int)_mask);
        }

        _freeCount = size;
        _usedNotificationsEnabled = true;
    }

    /// <inheritdoc/>
    public int Size => Layout.Size;

    /// <summary>Gets where the rings are.</summary>
    public SplitQueueLayout Layout { get; }

    /// <inheritdoc/>
    public VirtqueueFeatures Features { get; }

    /// <inheritdoc/>
    public GuestMemory Memory { get; }

    /// <inheritdoc/>
    public VirtqueueFault Fault => _fault;

    /// <inheritdoc/>
    public bool IsBroken => _fault != VirtqueueFault.None;

    /// <inheritdoc/>
    public int FreeDescriptors => _freeCount;

    /// <inheritdoc/>
    public int Outstanding => _outstanding;

    private static byte* TranslateRing(GuestMemory memory, GuestAddress address, ulong length, int alignment)
    {
        GuestMemoryStatus status = memory.TryTranslate(address.Value, length, out byte* host);
        if (status != GuestMemoryStatus.Ok)
        {
            ThrowHelper.ThrowGuestMemory(status, address, length);
        }

        if (((ulong)host & (ulong)(alignment - 1)) != 0)
        {
            // Index fields are accessed with acquire/release: some CPUs need natural alignment.
            ThrowHelper.ThrowArgument(nameof(address), "The region's host memory does not keep the ring's alignment.");
        }

        return host;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private PopStatus Fail(VirtqueueFault fault)
    {
        Debug.Assert(fault != VirtqueueFault.None, "a failure needs a fault");
        _fault = fault;
        return PopStatus.Broken;
    }

    /// <summary>What the driver remembers about an outstanding chain, by head index.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct HeadState
    {
        public ulong Token;
        public uint WritableLength;
        public ushort Last;            // last ring descriptor of the chain (the head itself when indirect)
        public ushort Descriptors;     // ring descriptors taken; 0 when the head is not outstanding
        public ushort AvailPosition;   // the avail index the head was placed at (IN_ORDER batch arithmetic)
        public uint AddEpoch;          // _publishEpoch when added: equal to the current epoch means not yet published
    }
}
