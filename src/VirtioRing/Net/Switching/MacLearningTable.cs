using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;

namespace VirtioRing.Net.Switching;

/// <summary>
/// The switch's forwarding database: MAC address → port, with the time each address was last seen. Lookups are
/// lock-free (any number of sender threads); learning a new address, a move and removals take a lock (rare).
/// </summary>
/// <remarks>
/// Open addressing with linear probing over a table at most half full; a slot is one 64-bit word
/// <c>mac &lt;&lt; 16 | static bit (15) | port + 1 (bits 0..7)</c>, written with one volatile store, so a reader sees
/// a whole entry or none. The last-seen time lives in a parallel array and is written only when it moved by more than
/// a sixteenth of the aging time (no cache-line ping-pong between senders). A lookup racing a removal's backward shift
/// may briefly miss an address: the frame is then flooded, which is always allowed.
/// <para>Exhaustion: <see cref="Capacity"/> bounds the learned addresses; static addresses have room of their own
/// (<c>staticReserve</c>, one per port), so learning never crowds them out. Each port may hold at most its limit of
/// learned addresses (<see cref="SetPortLimit"/>): a guest that sends from random source addresses fills its own share
/// and no more; with limits whose sum is at most <see cref="Capacity"/>, no port can keep another's address from being
/// learned.</para>
/// </remarks>
[DebuggerDisplay("{Count}/{Capacity} addresses")]
internal sealed class MacLearningTable
{
    private const long StaticBit = 1L << 15;
    private const long PortMask = 0xFF;

    private readonly long[] _slots;
    private readonly long[] _seen;
    private readonly int _shift;
    private readonly object _gate = new();
    private readonly List<long> _doomed = [];
    private readonly long _agingTicks;
    private readonly long _refreshTicks;
    private long _lastSweep;
    private bool _swept;
    private int _count;
    private int _learned;
    private int _statics;
    private readonly int _staticReserve;
    private readonly int[] _learnedPerPort = new int[64];
    private readonly int[] _portLimit = new int[64];

    public MacLearningTable(int capacity, long agingTicks, int staticReserve = 64)
    {
        _staticReserve = staticReserve;
        _portLimit.AsSpan().Fill(int.MaxValue);
        int bits = 2;
        while ((1 << bits) < 2 * (capacity + staticReserve))
        {
            bits++;
        }

        _slots = new long[1 << bits];
        _seen = new long[1 << bits];
        _shift = 64 - bits;
        Capacity = capacity;
        _agingTicks = agingTicks;
        _refreshTicks = agingTicks / 16;
    }

    /// <summary>Gets the most learned addresses (static ones have room of their own).</summary>
    public int Capacity { get; }

    public int Count => Volatile.Read(ref _count);

    /// <summary>Sets the most learned addresses a port may hold (entries it already has above it stay until they age out or move).</summary>
    public void SetPortLimit(int port, int limit) => Volatile.Write(ref _portLimit[port], limit);

    /// <summary>Gets how many learned addresses a port holds now.</summary>
    public int LearnedOn(int port) => Volatile.Read(ref _learnedPerPort[port]);

    /// <summary>Gets how many new addresses were not learned because the table was full.</summary>
    public long Overflows { get; private set; }

    /// <summary>The port an address is bound to (static, or learned and not expired), or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Lookup(ulong mac, long now)
    {
        int i = Find(mac);
        if (i < 0)
        {
            return -1;
        }

        long slot = Volatile.Read(ref _slots[i]);
        if ((ulong)(slot >>> 16) != mac)
        {
            return -1;
        }

        if ((slot & StaticBit) == 0 && now - Volatile.Read(ref _seen[i]) > _agingTicks)
        {
            return -1;
        }

        return (int)(slot & PortMask) - 1;
    }

    /// <summary>Records that <paramref name="mac"/> sent a frame on <paramref name="port"/>.</summary>
    /// <returns><see langword="false"/> when a new address (or a move) was refused: the port holds its limit of learned
    /// addresses, or the table is full.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Learn(ulong mac, int port, long now)
    {
        int i = Find(mac);
        if (i >= 0)
        {
            long slot = Volatile.Read(ref _slots[i]);
            if ((ulong)(slot >>> 16) == mac)
            {
                if ((slot & StaticBit) != 0)
                {
                    return true;                  // a static address never moves
                }

                if ((int)(slot & PortMask) - 1 == port)
                {
                    if (now - Volatile.Read(ref _seen[i]) > _refreshTicks)
                    {
                        Volatile.Write(ref _seen[i], now);
                    }

                    return true;
                }
            }
        }

        // A port at its limit is refused without the lock (checked again under it): a guest sending from ever new
        // addresses does not serialise the other ports' learning.
        if (Volatile.Read(ref _learnedPerPort[port]) >= Volatile.Read(ref _portLimit[port]))
        {
            return false;
        }

        return LearnSlow(mac, port, now, isStatic: false);
    }

    /// <summary>Binds an address to a port for good (no aging, no moves) until <see cref="RemovePort"/> or <see cref="Remove"/>.</summary>
    public bool AddStatic(ulong mac, int port, long now) => LearnSlow(mac, port, now, isStatic: true);

    /// <summary>Forgets every address of a port.</summary>
    public int RemovePort(int port)
    {
        lock (_gate)
        {
            _doomed.Clear();
            for (int i = 0; i < _slots.Length; i++)
            {
                long slot = _slots[i];
                if (slot != 0 && (int)(slot & PortMask) - 1 == port)
                {
                    _doomed.Add(slot >>> 16);
                }
            }

            foreach (long mac in _doomed)
            {
                RemoveLocked((ulong)mac);
            }

            return _doomed.Count;
        }
    }

    /// <summary>Forgets an address.</summary>
    public bool Remove(ulong mac)
    {
        lock (_gate)
        {
            return RemoveLocked(mac);
        }
    }

    /// <summary>Forgets every learned address not seen within the aging time.</summary>
    public int Sweep(long now)
    {
        lock (_gate)
        {
            return SweepLocked(now);
        }
    }

    private bool LearnSlow(ulong mac, int port, long now, bool isStatic)
    {
        Debug.Assert((uint)port < 64, "ports are 0..63");
        long entry = ((long)mac << 16) | (isStatic ? StaticBit : 0) | (long)(port + 1);
        lock (_gate)
        {
            if (!isStatic && _learnedPerPort[port] >= _portLimit[port])
            {
                return false;
            }

            int mask = _slots.Length - 1;
            for (int i = Home(mac); ; i = (i + 1) & mask)
            {
                long current = _slots[i];
                if (current == 0)
                {
                    if (isStatic ? _statics == _staticReserve : _learned == Capacity)
                    {
                        if (isStatic)
                        {
                            return false;         // one static address per port: cannot happen with a reserve of MaxPorts
                        }

                        // Sweep at most four times per aging period, so a flood of new source addresses costs O(1) each.
                        bool mayFree = !_swept || now - _lastSweep >= _agingTicks / 4;
                        _lastSweep = mayFree ? now : _lastSweep;
                        _swept = true;
                        if (!mayFree || SweepLocked(now) == 0)
                        {
                            Overflows++;
                            return false;
                        }

                        return LearnLockedRetry(mac, entry, now);
                    }

                    Volatile.Write(ref _seen[i], now);
                    Volatile.Write(ref _slots[i], entry);
                    Volatile.Write(ref _count, _count + 1);
                    Account(entry, +1);
                    return true;
                }

                if ((ulong)(current >>> 16) == mac)
                {
                    if ((current & StaticBit) != 0 && !isStatic)
                    {
                        return true;                       // a static address never moves (another queue raced us here)
                    }

                    if (current == entry)
                    {
                        Volatile.Write(ref _seen[i], now); // the same entry, learned meanwhile by another queue of the port
                        return true;
                    }

                    if (isStatic && (current & StaticBit) == 0 && _statics == _staticReserve)
                    {
                        return false;
                    }

                    Account(current, -1);
                    Account(entry, +1);
                    Volatile.Write(ref _seen[i], now);     // time first: a reader seeing the moved entry sees it fresh
                    Volatile.Write(ref _slots[i], entry);
                    return true;
                }
            }
        }
    }

    private bool LearnLockedRetry(ulong mac, long entry, long now)
    {
        int mask = _slots.Length - 1;
        for (int i = Home(mac); ; i = (i + 1) & mask)
        {
            if (_slots[i] == 0)
            {
                Volatile.Write(ref _seen[i], now);
                Volatile.Write(ref _slots[i], entry);
                Volatile.Write(ref _count, _count + 1);
                Account(entry, +1);
                return true;
            }
        }
    }

    /// <summary>Counts an entry in or out (under the lock): statics, learned ones in total and per port.</summary>
    private void Account(long entry, int delta)
    {
        if ((entry & StaticBit) != 0)
        {
            _statics += delta;
            return;
        }

        _learned += delta;
        int port = (int)(entry & PortMask) - 1;
        Volatile.Write(ref _learnedPerPort[port], _learnedPerPort[port] + delta);
        Debug.Assert(_learned >= 0 && _learnedPerPort[port] >= 0, "entry counts went negative");
    }

    private int SweepLocked(long now)
    {
        _doomed.Clear();
        for (int i = 0; i < _slots.Length; i++)
        {
            long slot = _slots[i];
            if (slot != 0 && (slot & StaticBit) == 0 && now - _seen[i] > _agingTicks)
            {
                _doomed.Add(slot >>> 16);
            }
        }

        foreach (long mac in _doomed)
        {
            RemoveLocked((ulong)mac);
        }

        return _doomed.Count;
    }

    private bool RemoveLocked(ulong mac)
    {
        int mask = _slots.Length - 1;
        int hole = Find(mac);
        if (hole < 0)
        {
            return false;
        }

        Account(_slots[hole], -1);

        // Backward-shift deletion (linear probing): move later entries of the run into the hole when their home slot
        // does not lie cyclically in (hole, j]; copy first, clear last, so a reader sees either copy.
        for (int j = (hole + 1) & mask; _slots[j] != 0; j = (j + 1) & mask)
        {
            int home = Home((ulong)(_slots[j] >>> 16));
            bool stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
            if (!stays)
            {
                Volatile.Write(ref _seen[hole], _seen[j]);
                Volatile.Write(ref _slots[hole], _slots[j]);
                hole = j;
            }
        }

        Volatile.Write(ref _slots[hole], 0);
        Volatile.Write(ref _count, _count - 1);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Find(ulong mac)
    {
        int mask = _slots.Length - 1;
        int i = Home(mac);
        for (int probes = 0; probes <= mask; probes++, i = (i + 1) & mask)
        {
            long slot = Volatile.Read(ref _slots[i]);
            if (slot == 0)
            {
                return -1;
            }

            if ((ulong)(slot >>> 16) == mac)
            {
                return i;
            }
        }

        return -1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(ulong mac) => (int)((mac * 0x9E3779B97F4A7C15UL) >> _shift);   // Fibonacci hashing
}
