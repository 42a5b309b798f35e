using System;
using System.Collections.Generic;
using VirtioRing.Memory;

namespace VirtioRing.TestKit;

/// <summary>
/// A simple allocator of guest buffers for a test driver: fixed-size slots in one guest region,
/// rented and returned (last returned, first rented). Double returns and foreign addresses throw.
/// </summary>
public sealed class GuestBufferPool
{
    private readonly GuestMemory _memory;
    private readonly Stack<int> _free;
    private readonly bool[] _rented;

    /// <summary>Creates a pool of <paramref name="slotCount"/> slots of <paramref name="slotSize"/> bytes from <paramref name="start"/>.</summary>
    /// <param name="memory">The guest memory that holds the slots.</param>
    /// <param name="start">The first slot's address.</param>
    /// <param name="slotSize">The size of each slot.</param>
    /// <param name="slotCount">The number of slots.</param>
    public GuestBufferPool(GuestMemory memory, GuestAddress start, int slotSize, int slotCount)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(slotSize);
        ArgumentOutOfRangeException.ThrowIfNegative(slotCount);
        _memory = memory;
        Start = start;
        SlotSize = slotSize;
        Capacity = slotCount;
        _rented = new bool[slotCount];
        _free = new Stack<int>(slotCount);
        for (int i = slotCount - 1; i >= 0; i--)
        {
            _free.Push(i);
        }
    }

    /// <summary>Gets the first slot's address.</summary>
    public GuestAddress Start { get; }

    /// <summary>Gets the size of each slot: the longest buffer the pool hands out.</summary>
    public int SlotSize { get; }

    /// <summary>Gets the number of slots.</summary>
    public int Capacity { get; }

    /// <summary>Gets the number of free slots.</summary>
    public int Available => _free.Count;

    /// <summary>Rents a slot.</summary>
    /// <param name="address">The slot's guest address.</param>
    /// <returns><see langword="false"/> when every slot is rented.</returns>
    public bool TryRent(out GuestAddress address)
    {
        if (!_free.TryPop(out int slot))
        {
            address = default;
            return false;
        }

        _rented[slot] = true;
        address = Start.Add((ulong)slot * (ulong)SlotSize);
        return true;
    }

    /// <summary>Rents a slot.</summary>
    /// <returns>The slot's guest address.</returns>
    /// <exception cref="InvalidOperationException">Every slot is rented.</exception>
    public GuestAddress Rent() => TryRent(out GuestAddress a) ? a : throw new InvalidOperationException("The buffer pool is exhausted.");

    /// <summary>Returns a rented slot.</summary>
    /// <param name="address">The address <see cref="Rent"/> gave.</param>
    /// <exception cref="InvalidOperationException">The address is not a rented slot.</exception>
    public void Return(GuestAddress address)
    {
        ulong offset = address.Value - Start.Value;
        if (address < Start || offset % (ulong)SlotSize != 0 || offset / (ulong)SlotSize >= (ulong)Capacity)
        {
            throw new InvalidOperationException($"{address} is not a slot of this pool.");
        }

        int slot = (int)(offset / (ulong)SlotSize);
        if (!_rented[slot])
        {
            throw new InvalidOperationException($"{address} was returned twice.");
        }

        _rented[slot] = false;
        _free.Push(slot);
    }

    /// <summary>Gets the host bytes of a buffer.</summary>
    /// <param name="address">The buffer's address.</param>
    /// <param name="length">Its length.</param>
    /// <returns>The bytes.</returns>
    public Span<byte> GetSpan(GuestAddress address, uint length) => _memory.GetSpan(address, length);
}
