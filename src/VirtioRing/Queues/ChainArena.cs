using System;
using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using VirtioRing.Memory;

namespace VirtioRing.Queues;

/// <summary>
/// Device-side store of the chains in flight: one slot per possible outstanding chain (the queue
/// size), each with room for <see cref="InlineSegments"/> segments and a pooled overflow array
/// for longer chains. Slots are recycled, so a steady state allocates nothing. Slot generations
/// turn a stale <see cref="DescriptorChain"/> (pushed twice, or after a reset) into an exception:
/// one 16-bit word per slot, odd while the slot is held, so "held and of this generation" is one
/// compare against the generation a chain carries (always odd).
/// Shared by the split and packed device queues: both validate a descriptor the same way here.
/// </summary>
internal sealed unsafe class ChainArena
{
    public const int InlineSegments = 8;

    private readonly SegmentEntry[] _inline;
    private readonly SegmentEntry[]?[] _overflow;
    private readonly ushort[] _generation;   // per slot; odd while held (one load answers IsCurrent)
    private readonly ushort[] _freeSlots;
    private int _freeCount;
    private GuestMemory _memory;

    // Last-hit translation hint: a copy of the region that answered last, so the common case is
    // three compares on fields of this object instead of loads through the region table. Refreshed
    // after a miss and cleared when Memory is set; per queue, so nothing mutable is shared.
    private ulong _hintStart;
    private ulong _hintSize;    // 0: no hint (every lookup misses)
    private byte* _hintHost;

    public ChainArena(GuestMemory memory, int capacity)
    {
        Debug.Assert(capacity is > 0 and <= 32768, "capacity is a queue size");
        _memory = memory;
        Capacity = capacity;
        _inline = new SegmentEntry[capacity * InlineSegments];
        _overflow = new SegmentEntry[]?[capacity];
        _generation = new ushort[capacity];
        _freeSlots = new ushort[capacity];
        Reset();
    }

    public GuestMemory Memory
    {
        get => _memory;
        set
        {
            _memory = value;
            _hintSize = 0;
        }
    }

    public int Capacity { get; }

    /// <summary>Chains popped and not yet pushed.</summary>
    public int InFlight => Capacity - _freeCount;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsCurrent(ushort slot, ushort generation)
    {
        // A chain's generation is odd; a free slot's is even, so equality also means "held".
        ushort[] generations = _generation;
        return slot < (uint)generations.Length && generations[slot] == generation;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref SegmentEntry Segment(ushort slot, int index)
    {
        if (index < InlineSegments)
        {
            return ref _inline[(slot * InlineSegments) + index];
        }

        return ref _overflow[slot]![index - InlineSegments];
    }

    /// <summary>Takes a free slot for a chain about to be walked; false when every slot is in flight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryBegin(out PendingChain pending)
    {
        if (_freeCount == 0)
        {
            pending = default;
            return false;
        }

        ushort slot = _freeSlots[--_freeCount];
        _generation[slot]++;   // odd: held
        pending = new PendingChain(slot);
        return true;
    }

    /// <summary>
    /// Validates and appends one direct buffer to a chain being walked: readable buffers before
    /// writable ones (§2.7.4.2), the chain total below 2^32 bytes, and the buffer wholly inside one
    /// guest memory region. Zero-length buffers are kept and need no translation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public VirtqueueFault Append(ref PendingChain pending, ulong address, uint length, bool writable)
    {
        if (!writable && pending.WritableCount > 0)
        {
            return VirtqueueFault.WritableBeforeReadable;
        }

        ulong total = (ulong)pending.ReadableLength + pending.WritableLength + length;
        if (total > uint.MaxValue)
        {
            return VirtqueueFault.ChainTooLarge;
        }

        byte* host = null;
        if (length != 0)
        {
            host = TranslateHinted(address, length);
            if (host == null)
            {
                VirtqueueFault miss = TranslateMiss(address, length, out host);
                if (miss != VirtqueueFault.None)
                {
                    return miss;
                }
            }
        }

        int index = pending.SegmentCount;
        if (index >= InlineSegments)
        {
            EnsureOverflow(pending.Slot, index - InlineSegments + 1);
        }

        ref SegmentEntry e = ref Segment(pending.Slot, index);
        e.Address = address;
        e.Host = (IntPtr)host;
        e.Length = length;
        e.Writable = writable;
        pending.SegmentCount++;
        if (writable)
        {
            pending.WritableCount++;
            pending.WritableLength += length;
        }
        else
        {
            pending.ReadableLength += length;
        }

        return VirtqueueFault.None;
    }

    /// <summary>
    /// The common chain in one step: a single direct buffer (no NEXT, no INDIRECT). Same checks and
    /// faults as <see cref="TryBegin"/> then <see cref="Append"/> then <see cref="Complete"/>: no
    /// free slot is <see cref="VirtqueueFault.TooManyInFlight"/>, then the buffer must lie in one
    /// region. A one-buffer chain cannot be out of order or reach 2^32 bytes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public VirtqueueFault TryTakeSingle(ulong address, uint length, bool writable, ushort id, out DescriptorChain chain)
    {
        int free = _freeCount;
        if (free == 0)
        {
            chain = default;
            return VirtqueueFault.TooManyInFlight;
        }

        VirtqueueFault fault = Translate(address, length, out byte* host);
        if (fault != VirtqueueFault.None)
        {
            chain = default;
            return fault;
        }

        ref SegmentEntry e = ref TakeSlot(free, out ushort slot, out ushort generation);
        Set(ref e, address, host, length, writable);
        uint readable = writable ? 0 : length;
        chain = new DescriptorChain(this, slot, generation, id, 1, 1, writable ? (ushort)0 : (ushort)1, readable, length - readable);
        return VirtqueueFault.None;
    }

    /// <summary>
    /// A chain of exactly two direct buffers (header + payload), in one step with the totals in
    /// registers. Same checks and faults, in the same order, as <see cref="TryBegin"/>, two
    /// <see cref="Append"/> calls and <see cref="Complete"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public VirtqueueFault TryTakePair(ulong address0, uint length0, bool writable0, ulong address1, uint length1, bool writable1, ushort id, out DescriptorChain chain)
    {
        int free = _freeCount;
        if (free == 0)
        {
            chain = default;
            return VirtqueueFault.TooManyInFlight;
        }

        byte* host1 = null;
        VirtqueueFault fault = Translate(address0, length0, out byte* host0);
        if (fault == VirtqueueFault.None)
        {
            if (writable0 && !writable1)
            {
                fault = VirtqueueFault.WritableBeforeReadable;
            }
            else if ((ulong)length0 + length1 > uint.MaxValue)
            {
                fault = VirtqueueFault.ChainTooLarge;
            }
            else
            {
                fault = Translate(address1, length1, out host1);
            }
        }

        if (fault != VirtqueueFault.None)
        {
            chain = default;
            return fault;
        }

        ref SegmentEntry e0 = ref TakeSlot(free, out ushort slot, out ushort generation);
        Set(ref e0, address0, host0, length0, writable0);
        Set(ref Unsafe.Add(ref e0, 1), address1, host1, length1, writable1);
        uint readable = (writable0 ? 0 : length0) + (writable1 ? 0 : length1);
        int readableCount = (writable0 ? 0 : 1) + (writable1 ? 0 : 1);
        chain = new DescriptorChain(this, slot, generation, id, 2, 2, (ushort)readableCount, readable, length0 + length1 - readable);
        return VirtqueueFault.None;
    }

    /// <summary>Takes the top free slot (the caller checked <paramref name="free"/> &gt; 0) and marks it held.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref SegmentEntry TakeSlot(int free, out ushort slot, out ushort generation)
    {
        free--;
        _freeCount = free;
        slot = _freeSlots[free];
        generation = ++_generation[slot];   // odd: held
        return ref _inline[slot * InlineSegments];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Set(ref SegmentEntry e, ulong address, byte* host, uint length, bool writable)
    {
        e.Address = address;
        e.Host = (IntPtr)host;
        e.Length = length;
        e.Writable = writable;
    }

    /// <summary>Translates one buffer (hint first); a zero-length buffer needs no translation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private VirtqueueFault Translate(ulong address, uint length, out byte* host)
    {
        host = null;
        if (length == 0)
        {
            return VirtqueueFault.None;
        }

        host = TranslateHinted(address, length);
        return host != null ? VirtqueueFault.None : TranslateMiss(address, length, out host);
    }

    /// <summary>Turns a fully walked chain into the caller's value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public DescriptorChain Complete(in PendingChain pending, ushort id, ushort descriptorCount) =>
        new(this, pending.Slot, _generation[pending.Slot], id, descriptorCount,
            (ushort)pending.SegmentCount, (ushort)(pending.SegmentCount - pending.WritableCount),
            pending.ReadableLength, pending.WritableLength);

    /// <summary>Gives a slot back after a walk failed.</summary>
    public void Abort(ushort slot) => Free(slot);

    /// <summary>Frees the slot of a chain the caller has just checked with <see cref="IsCurrent"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ReleaseChecked(ushort slot) => Free(slot);

    /// <summary>Forgets every chain in flight (queue reset); their values become stale.</summary>
    public void Reset()
    {
        _freeCount = 0;
        for (int slot = Capacity - 1; slot >= 0; slot--)
        {
            if ((_generation[slot] & 1) != 0)
            {
                _generation[slot]++;   // even: free, and every value of the old generation is stale
            }

            ReturnOverflow((ushort)slot);
            _freeSlots[_freeCount++] = (ushort)slot;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Free(ushort slot)
    {
        Debug.Assert((_generation[slot] & 1) != 0, "freeing a slot that is not held");
        _generation[slot]++;
        _freeSlots[_freeCount++] = slot;
    }

    /// <summary>Translates through the last-hit hint; null on a miss (region host memory is never at address 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* TranslateHinted(ulong address, uint length)
    {
        ulong offset = address - _hintStart;   // wraps to a huge value when address < start
        ulong size = _hintSize;
        return offset < size && length <= size - offset && length <= int.MaxValue ? _hintHost + offset : null;
    }

    /// <summary>A hint miss: the region table decides, and the region that answered becomes the hint.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private VirtqueueFault TranslateMiss(ulong address, uint length, out byte* host)
    {
        GuestMemory memory = _memory;
        GuestMemoryStatus status = memory.TryTranslate(address, length, out host);
        if (status != GuestMemoryStatus.Ok)
        {
            return status switch
            {
                GuestMemoryStatus.AddressOverflow => VirtqueueFault.AddressOverflow,
                GuestMemoryStatus.TooLong => VirtqueueFault.ChainTooLarge,
                _ => VirtqueueFault.BufferOutOfRange,
            };
        }

        GuestRegion? region = memory.FindRegion(address);
        if (region is not null && region.Host != null)
        {
            _hintStart = region.Start.Value;
            _hintSize = region.Size;
            _hintHost = region.Host;
        }

        return VirtqueueFault.None;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EnsureOverflow(ushort slot, int needed)
    {
        SegmentEntry[]? current = _overflow[slot];
        if (current is not null && current.Length >= needed)
        {
            return;
        }

        // Pooled, and kept with the slot: a queue that sees long chains stops renting once warm.
        SegmentEntry[] bigger = ArrayPool<SegmentEntry>.Shared.Rent(Math.Max(needed, current is null ? 8 : current.Length * 2));
        if (current is not null)
        {
            current.AsSpan().CopyTo(bigger);
            ArrayPool<SegmentEntry>.Shared.Return(current);
        }

        _overflow[slot] = bigger;
    }

    private void ReturnOverflow(ushort slot)
    {
        SegmentEntry[]? current = _overflow[slot];
        if (current is not null)
        {
            _overflow[slot] = null;
            ArrayPool<SegmentEntry>.Shared.Return(current);
        }
    }
}

/// <summary>A chain being walked: the slot it will occupy and the totals so far.</summary>
internal struct PendingChain(ushort slot)
{
    public readonly ushort Slot = slot;
    public int SegmentCount;
    public int WritableCount;
    public uint ReadableLength;
    public uint WritableLength;
}
