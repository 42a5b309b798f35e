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
/// turn a stale <see cref="DescriptorChain"/> (pushed twice, or after a reset) into an exception.
/// Shared by the split and packed device queues: both validate a descriptor the same way here.
/// </summary>
internal sealed unsafe class ChainArena
{
    public const int InlineSegments = 8;

    private readonly SegmentEntry[] _inline;
    private readonly SegmentEntry[]?[] _overflow;
    private readonly ushort[] _generation;
    private readonly ushort[] _freeSlots;
    private readonly bool[] _held;
    private int _freeCount;

    public ChainArena(GuestMemory memory, int capacity)
    {
        Debug.Assert(capacity is > 0 and <= 32768, "capacity is a queue size");
        Memory = memory;
        Capacity = capacity;
        _inline = new SegmentEntry[capacity * InlineSegments];
        _overflow = new SegmentEntry[]?[capacity];
        _generation = new ushort[capacity];
        _held = new bool[capacity];
        _freeSlots = new ushort[capacity];
        Reset();
    }

    public GuestMemory Memory { get; set; }

    public int Capacity { get; }

    /// <summary>Chains popped and not yet pushed.</summary>
    public int InFlight => Capacity - _freeCount;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsCurrent(ushort slot, ushort generation) =>
        slot < Capacity && _held[slot] && _generation[slot] == generation;

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
        _held[slot] = true;
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
            GuestMemoryStatus status = Memory.TryTranslate(address, length, out host);
            if (status != GuestMemoryStatus.Ok)
            {
                return status switch
                {
                    GuestMemoryStatus.AddressOverflow => VirtqueueFault.AddressOverflow,
                    GuestMemoryStatus.TooLong => VirtqueueFault.ChainTooLarge,
                    _ => VirtqueueFault.BufferOutOfRange,
                };
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

    /// <summary>Turns a fully walked chain into the caller's value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public DescriptorChain Complete(in PendingChain pending, ushort id, ushort descriptorCount) =>
        new(this, pending.Slot, _generation[pending.Slot], id, descriptorCount,
            (ushort)pending.SegmentCount, (ushort)(pending.SegmentCount - pending.WritableCount),
            pending.ReadableLength, pending.WritableLength);

    /// <summary>Gives a slot back after a walk failed.</summary>
    public void Abort(in PendingChain pending) => Free(pending.Slot);

    /// <summary>Frees a held chain's slot; throws when the chain is stale or from another queue.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Release(in DescriptorChain chain)
    {
        if (!ReferenceEquals(chain.Arena, this) || !IsCurrent(chain.Slot, chain.Generation))
        {
            ThrowHelper.ThrowInvalidOperation("The chain is not held by this queue: it was already pushed as used, or it came from another queue.");
        }

        Free(chain.Slot);
    }

    /// <summary>Forgets every chain in flight (queue reset); their values become stale.</summary>
    public void Reset()
    {
        _freeCount = 0;
        for (int slot = Capacity - 1; slot >= 0; slot--)
        {
            if (_held[slot])
            {
                _held[slot] = false;
                _generation[slot]++;
            }

            ReturnOverflow((ushort)slot);
            _freeSlots[_freeCount++] = (ushort)slot;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Free(ushort slot)
    {
        Debug.Assert(_held[slot], "freeing a slot that is not held");
        _held[slot] = false;
        _generation[slot]++;
        _freeSlots[_freeCount++] = slot;
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
