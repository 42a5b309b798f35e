using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// One queue pair per peer: frames go to the transmit queue assigned to their destination MAC address (for
/// example one pair per peer guest on an internal LAN, created with the peer). Isolates peers — a slow peer
/// backs up only its own queue — and keeps each peer's frames in order. Frames to an unassigned unicast
/// address, and broadcast/multicast frames, go to <see cref="DefaultQueue"/>.
/// </summary>
/// <remarks>
/// <para>The map is bounded: <see cref="Capacity"/> addresses, in an open-addressed table allocated by the
/// constructor (at most half full), so neither assignments nor lookups allocate.</para>
/// <para>Thread-safety: <see cref="SelectTransmitQueue"/> and <see cref="TryGetQueue"/> are lock-free and may run on
/// any number of threads while <see cref="TryAssign"/>, <see cref="Remove"/> and <see cref="Clear"/> (serialised
/// by a lock) change the map; a lookup racing a change of the same address may see the old or new queue, or
/// briefly miss and use the default queue.</para>
/// </remarks>
[DebuggerDisplay("{Count}/{Capacity} peers, default {DefaultQueue}")]
public sealed class DestinationMacTxQueueSelector : ITxQueueSelector
{
    /// <summary>The largest transmit-queue index (<c>VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX</c> − 1, §5.1.6.5.6).</summary>
    public const ushort MaxQueue = 0x7FFF;

    // Slot: MAC (48 bits, first octet most significant) << 16 | (queue + 1). 0 = empty. The MAC is read back with
    // >>>: a first octet of 0x80 or more sets the sign bit.
    private readonly long[] _slots;
    private readonly int _shift;
    private readonly object _gate = new();
    private int _count;

    /// <summary>Creates an empty map.</summary>
    /// <param name="capacity">Peers the map can hold, 1 to 65536.</param>
    /// <param name="defaultQueue">The transmit queue for unassigned and group destinations (transmitq1 if that is not active).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside its range.</exception>
    public DestinationMacTxQueueSelector(int capacity, ushort defaultQueue = 0)
    {
        if (capacity is < 1 or > 65536)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(capacity), "The capacity must be 1 to 65536.");
        }

        if (defaultQueue > MaxQueue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(defaultQueue), "A queue index is at most 0x7FFF.");
        }

        int bits = 2;
        while ((1 << bits) < 2 * capacity)
        {
            bits++;
        }

        _slots = new long[1 << bits];
        _shift = 64 - bits;
        Capacity = capacity;
        DefaultQueue = defaultQueue;
    }

    /// <summary>Gets the number of addresses the map can hold.</summary>
    public int Capacity { get; }

    /// <summary>Gets the number of assigned addresses.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Gets the transmit queue for unassigned unicast and for broadcast/multicast destinations.</summary>
    public ushort DefaultQueue { get; }

    /// <summary>Assigns (or reassigns) the transmit queue of a peer.</summary>
    /// <param name="mac">The peer's unicast MAC address (6 bytes).</param>
    /// <param name="queue">The transmit-queue index, at most <see cref="MaxQueue"/>.</param>
    /// <returns>False when the address is new and the map is full; nothing changes then.</returns>
    /// <exception cref="ArgumentException"><paramref name="mac"/> is not 6 bytes or is a group (multicast/broadcast) address.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queue"/> exceeds <see cref="MaxQueue"/>.</exception>
    public bool TryAssign(ReadOnlySpan<byte> mac, ushort queue)
    {
        long key = UnicastKey(mac);
        if (queue > MaxQueue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queue), "A queue index is at most 0x7FFF.");
        }

        long slot = (key << 16) | (long)(queue + 1);
        lock (_gate)
        {
            int mask = _slots.Length - 1;
            for (int i = Home(key); ; i = (i + 1) & mask)
            {
                long current = _slots[i];
                if (current == 0)
                {
                    if (_count == Capacity)
                    {
                        return false;
                    }

                    Volatile.Write(ref _slots[i], slot);
                    Volatile.Write(ref _count, _count + 1);
                    return true;
                }

                if (current >>> 16 == key)
                {
                    Volatile.Write(ref _slots[i], slot);
                    return true;
                }
            }
        }
    }

    /// <summary>Forgets a peer.</summary>
    /// <param name="mac">The peer's MAC address (6 bytes).</param>
    /// <returns>Whether it was assigned.</returns>
    /// <exception cref="ArgumentException"><paramref name="mac"/> is not 6 bytes or is a group address.</exception>
    public bool Remove(ReadOnlySpan<byte> mac)
    {
        long key = UnicastKey(mac);
        lock (_gate)
        {
            int mask = _slots.Length - 1;
            int hole = Find(key);
            if (hole < 0)
            {
                return false;
            }

            // Backward-shift deletion (linear probing): move later entries of the run into the hole when their
            // home slot does not lie cyclically in (hole, j]; copy first, clear last, so a reader sees either copy.
            for (int j = (hole + 1) & mask; _slots[j] != 0; j = (j + 1) & mask)
            {
                int home = Home(_slots[j] >>> 16);
                bool stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
                if (!stays)
                {
                    Volatile.Write(ref _slots[hole], _slots[j]);
                    hole = j;
                }
            }

            Volatile.Write(ref _slots[hole], 0);
            Volatile.Write(ref _count, _count - 1);
            return true;
        }
    }

    /// <summary>Forgets every peer.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            for (int i = 0; i < _slots.Length; i++)
            {
                Volatile.Write(ref _slots[i], 0);
            }

            Volatile.Write(ref _count, 0);
        }
    }

    /// <summary>Looks up a peer's transmit queue.</summary>
    /// <param name="mac">The MAC address (6 bytes).</param>
    /// <param name="queue">The assigned queue, or 0.</param>
    /// <returns>Whether the address is assigned.</returns>
    /// <exception cref="ArgumentException"><paramref name="mac"/> is not 6 bytes.</exception>
    public bool TryGetQueue(ReadOnlySpan<byte> mac, out ushort queue)
    {
        if (mac.Length != 6)
        {
            ThrowHelper.ThrowArgument(nameof(mac), "A MAC address is 6 bytes.");
        }

        return TryLookup(Key(mac), out queue);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The queue assigned to the destination address (the frame's first 6 bytes) if it is active; otherwise
    /// <see cref="DefaultQueue"/> if that is active; otherwise transmitq1.
    /// </remarks>
    public ushort SelectTransmitQueue(ReadOnlySpan<byte> frame, ushort activePairs)
    {
        if (activePairs == 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(activePairs), "At least one pair is active.");
        }

        // Group addresses (I/G bit of the first octet, IEEE 802 §8.2) have no single peer.
        if (frame.Length >= 6 && (frame[0] & 1) == 0 && TryLookup(Key(frame), out ushort queue) && queue < activePairs)
        {
            return queue;
        }

        return DefaultQueue < activePairs ? DefaultQueue : (ushort)0;
    }

    private bool TryLookup(long key, out ushort queue)
    {
        int i = Find(key);
        if (i >= 0)
        {
            long slot = Volatile.Read(ref _slots[i]);
            if (slot >>> 16 == key)
            {
                queue = (ushort)((slot & 0xFFFF) - 1);
                return true;
            }
        }

        queue = 0;
        return false;
    }

    private int Find(long key)
    {
        int mask = _slots.Length - 1;
        int i = Home(key);
        for (int probes = 0; probes <= mask; probes++, i = (i + 1) & mask)
        {
            long slot = Volatile.Read(ref _slots[i]);
            if (slot == 0)
            {
                return -1;
            }

            if (slot >>> 16 == key)
            {
                return i;
            }
        }

        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(long key) => (int)((ulong)key * 0x9E3779B97F4A7C15UL >> _shift);   // Fibonacci hashing

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Key(ReadOnlySpan<byte> mac) =>
        (long)mac[0] << 40 | (long)mac[1] << 32 | (long)mac[2] << 24 | (long)mac[3] << 16 | (long)mac[4] << 8 | mac[5];

    private static long UnicastKey(ReadOnlySpan<byte> mac)
    {
        if (mac.Length != 6)
        {
            ThrowHelper.ThrowArgument(nameof(mac), "A MAC address is 6 bytes.");
        }

        if ((mac[0] & 1) != 0)
        {
            ThrowHelper.ThrowArgument(nameof(mac), "A peer's address is unicast; group addresses use the default queue.");
        }

        return Key(mac);
    }
}
