using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace VirtioRing.Queues.Packed;

/// <summary>Device side, used descriptors: push and publish (§2.8.6 chains, §2.8.8 in-order, §2.8.9 first descriptor last).</summary>
public sealed unsafe partial class PackedDeviceQueue
{
    private ushort _nextUsed;        // next ring slot to write a used descriptor to
    private bool _usedWrap;          // the device ring wrap counter there
    private bool _firstPending;      // a used descriptor whose flags wait for PublishUsed
    private ushort _firstSlot;
    private ushort _firstFlags;
    private int _pushedBuffers;      // chains pushed since the last publish
    private int _pushedSlots;        // ring slots they cover

    // IN_ORDER: a run of zero-length completions waiting for the chain that ends it (§2.8.8).
    private bool _runOpen;
    private ushort _runSlot;
    private bool _runWrap;
    private ushort _runId;
    private int _popOrderHead;
    private int _popOrderCount;

    /// <inheritdoc/>
    /// <remarks>
    /// The used descriptor is written at the device's used position, which then moves on by the
    /// number of ring slots the chain occupied. Under IN_ORDER a zero-length completion writes
    /// nothing yet: the next non-zero completion, or <see cref="PublishUsed"/>, writes one used
    /// descriptor for the whole run with the id of its last chain, at the slot of its first.
    /// On a broken queue the chain is released and nothing is written.
    /// </remarks>
    public void PushUsed(in DescriptorChain chain, uint writtenLength)
    {
        if (!ReferenceEquals(chain.Arena, _arena) || !_arena.IsCurrent(chain.Slot, chain.Generation))
        {
            ThrowHelper.ThrowInvalidOperation("The chain is not held by this queue: it was already pushed as used, or it came from another queue.");
        }

        if (writtenLength > chain.WritableLength)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(writtenLength), "The written length exceeds the chain's writable length.");
        }

        if (_popOrder is not null)
        {
            if (_popOrderCount == 0 || _popOrder[_popOrderHead] != chain.Slot)
            {
                ThrowHelper.ThrowInvalidOperation("IN_ORDER: chains must be pushed in the order they were popped.");
            }

            _popOrderHead = _popOrderHead + 1 == _size ? 0 : _popOrderHead + 1;
            _popOrderCount--;
        }

        if (_writeLog is { } log && writtenLength != 0)
        {
            log.LogChain(chain, writtenLength);   // while the chain is held: its segments are readable
        }

        _arena.ReleaseChecked(chain.Slot);   // held and of this arena: checked on entry
        _idHeld[chain.Id] = false;
        int slots = chain.DescriptorCount;
        _slotsOutstanding -= slots;
        Debug.Assert(_slotsOutstanding >= 0, "more slots used than popped");
        if (_fault != VirtqueueFault.None)
        {
            return;   // broken: write nothing more into guest memory
        }

        _pushedBuffers++;
        _pushedSlots += slots;
        if (_inOrder)
        {
            if (!_runOpen)
            {
                _runOpen = true;
                _runSlot = _nextUsed;
                _runWrap = _usedWrap;
            }

            PackedRing.Advance(ref _nextUsed, ref _usedWrap, slots, _size);
            _runId = chain.Id;
            if (writtenLength != 0)
            {
                WriteUsed(_runSlot, _runWrap, chain.Id, writtenLength);
                _runOpen = false;
            }

            return;
        }

        WriteUsed(_nextUsed, _usedWrap, chain.Id, writtenLength);
        PackedRing.Advance(ref _nextUsed, ref _usedWrap, slots, _size);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Every used descriptor but the first of the batch is complete in the ring already; the first
    /// one's flags are stored last, with release order, so the driver, which polls that slot, sees
    /// the whole batch at once (§2.8.9).
    /// </remarks>
    public int PublishUsed()
    {
        if (_fault != VirtqueueFault.None)
        {
            _pushedBuffers = 0;
            _pushedSlots = 0;
            return 0;
        }

        if (_runOpen)
        {
            WriteUsed(_runSlot, _runWrap, _runId, 0);
            _runOpen = false;
        }

        if (_firstPending)
        {
            // Release: the used descriptors written before (ids, lengths, later flags) are visible first.
            PackedRing.StoreFlagsRelease(_ring + (_firstSlot * Descriptor.Size), _firstFlags);
            _firstPending = false;
            _writeLog?.LogWrite(_layout.DescriptorRing.Value + ((ulong)_firstSlot * Descriptor.Size), Descriptor.Size);
        }

        int published = _pushedBuffers;
        _usedSinceSignal = Math.Min(_usedSinceSignal + _pushedSlots, _size + 1);   // capped: more than a lap means "every slot"
        _publishedUsed = _nextUsed;
        _publishedUsedWrap = _usedWrap;
        _pushedBuffers = 0;
        _pushedSlots = 0;
        return published;
    }

    /// <summary>
    /// Writes one used descriptor: id and length now; the flags now too, unless it is the first of
    /// the batch (then at <see cref="PublishUsed"/>). WRITE is set when bytes were written, as §2.8.3
    /// asks; the address field is unused in a used descriptor and left alone.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteUsed(ushort slot, bool wrap, ushort id, uint writtenLength)
    {
        byte* d = _ring + (slot * Descriptor.Size);
        PackedRing.WriteLengthAndId(d, writtenLength, id);
        ushort flags = (ushort)(PackedRing.UsedBits(wrap) | (writtenLength != 0 ? (ushort)DescriptorFlags.DeviceWritable : 0));
        if (_firstPending)
        {
            PackedRing.StoreFlagsRelaxed(d, flags);
            _writeLog?.LogWrite(_layout.DescriptorRing.Value + ((ulong)slot * Descriptor.Size), Descriptor.Size);
            return;
        }

        _firstPending = true;   // logged at PublishUsed, after its flags are stored
        _firstSlot = slot;
        _firstFlags = flags;
    }
}
