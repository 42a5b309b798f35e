using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// Automatic receive steering without RSS (virtio 1.2 §5.1.6.5.6, after <c>VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET</c>):
/// "after the driver transmitted a packet of a flow on transmitqX, the device SHOULD cause incoming packets
/// for that flow to be steered to receiveqX". A bounded flow table remembers, per flow, the transmit queue
/// the flow last used.
/// </summary>
/// <remarks>
/// <para>Flows are identified by a symmetric hash of addresses, ports and protocol, so a transmitted frame and
/// the received reply map to the same entry. The table is 4-way set-associative with <see cref="Capacity"/>
/// entries, all allocated by the constructor: a new flow replaces the least recently refreshed entry of its
/// set, so a flood of new flows can only evict hints, never grow memory.</para>
/// <para>Defined behaviour: a flow never transmitted (or evicted), and a uni-directional one, goes to
/// <c>hash</c> mapped onto 0..<see cref="ActivePairs"/>−1 (the spec allows any queue; hashing keeps a flow on one
/// queue). A frame that is not IPv4/IPv6 goes to receiveq1 (index 0). A learned queue that is no longer
/// active is never returned: <see cref="SetActivePairs"/> forgets flows on removed pairs and lookups check the
/// count too, so the device never queues on a receive queue beyond <c>virtqueue_pairs</c> (§5.1.6.5.6.2).
/// With one active pair everything goes to receiveq1 (the state after reset).</para>
/// <para>Thread-safety: <see cref="RecordTransmit"/> and <see cref="SelectReceiveQueue"/> may run at the same
/// time on any number of queue threads, and <see cref="SetActivePairs"/> on the control path. Each entry is one
/// 64-bit word read and written atomically; a race can lose or misplace a hint, never corrupt the table.</para>
/// </remarks>
[DebuggerDisplay("{ActivePairs}/{MaxPairs} pairs, {Capacity} flows")]
public sealed class AutomaticReceiveSteering
{
    /// <summary>Entries per set.</summary>
    public const int Ways = 4;

    // Entry layout: flow hash (bits 63..32) | queue (31..16) | valid (15) | refresh stamp (14..0). 0 = empty.
    private const long ValidBit = 0x8000;
    private const int StampMask = 0x7FFF;

    // A hit on the same queue rewrites its entry only when this much older: a busy flow does not write
    // (and bounce a shared cache line) on every frame.
    private const int RefreshAge = 1024;

    private readonly long[] _entries;
    private readonly uint _setMask;
    private int _clock;
    private int _activePairs = 1;

    /// <summary>Creates an empty flow table; one pair is active (the state after reset, §5.1.6.5.6.2).</summary>
    /// <param name="maxPairs">The device's <c>max_virtqueue_pairs</c>, 1 to 0x8000.</param>
    /// <param name="capacity">Flows remembered, rounded up to a power of two, 4 to 1,048,576 (default 4096, as Linux tun).</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside its range.</exception>
    public AutomaticReceiveSteering(ushort maxPairs, int capacity = 4096)
    {
        if (maxPairs is 0 or > 0x8000)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(maxPairs), "max_virtqueue_pairs must be 1 to 0x8000.");
        }

        if (capacity is < Ways or > 1 << 20)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(capacity), "The flow capacity must be 4 to 1048576.");
        }

        int size = Ways;
        while (size < capacity)
        {
            size <<= 1;
        }

        _entries = new long[size];
        _setMask = (uint)(size / Ways - 1);
        MaxPairs = maxPairs;
    }

    /// <summary>Gets the number of flows the table can remember.</summary>
    public int Capacity => _entries.Length;

    /// <summary>Gets the device's maximum number of queue pairs.</summary>
    public ushort MaxPairs { get; }

    /// <summary>Gets the number of active queue pairs (<c>virtqueue_pairs</c> of the last <c>VQ_PAIRS_SET</c>).</summary>
    public ushort ActivePairs => (ushort)Volatile.Read(ref _activePairs);

    /// <summary>
    /// Sets the number of active pairs (after a valid <c>VQ_PAIRS_SET</c>). Shrinking forgets every flow learned
    /// on a removed pair (their frames fall back to the hash); growing keeps what was learned.
    /// </summary>
    /// <param name="pairs">1 to <see cref="MaxPairs"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pairs"/> is outside 1..<see cref="MaxPairs"/>.</exception>
    public void SetActivePairs(ushort pairs)
    {
        if (pairs == 0 || pairs > MaxPairs)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(pairs), "The pair count must be 1 to max_virtqueue_pairs.");
        }

        int old = Interlocked.Exchange(ref _activePairs, pairs);
        if (pairs >= old)
        {
            return;
        }

        // Lookups already ignore queues >= pairs; the sweep frees their slots for live flows.
        for (int i = 0; i < _entries.Length; i++)
        {
            long entry = Volatile.Read(ref _entries[i]);
            if (entry != 0 && QueueOf(entry) >= pairs)
            {
                Interlocked.CompareExchange(ref _entries[i], 0, entry);
            }
        }
    }

    /// <summary>Forgets every flow.</summary>
    public void Clear()
    {
        for (int i = 0; i < _entries.Length; i++)
        {
            Volatile.Write(ref _entries[i], 0);
        }
    }

    /// <summary>Records that the driver transmitted <paramref name="frame"/> on <paramref name="transmitQueue"/>.</summary>
    /// <param name="frame">The transmitted Ethernet frame (without the virtio-net header); may be hostile.</param>
    /// <param name="transmitQueue">The transmit-queue index (0 = transmitq1). A queue beyond the active pairs (a driver
    /// that breaks §5.1.6.5.6.1) is not learned.</param>
    public void RecordTransmit(ReadOnlySpan<byte> frame, ushort transmitQueue)
    {
        if (FlowHash.TryCompute(frame, out uint hash))
        {
            RecordTransmitHash(hash, transmitQueue);
        }
    }

    /// <summary>Picks the receive queue for <paramref name="frame"/>.</summary>
    /// <param name="frame">The received Ethernet frame (without the virtio-net header); may be hostile.</param>
    /// <returns>The learned queue of the frame's flow if it is active; else the flow hash over the active pairs; 0 for non-IP frames.</returns>
    public ushort SelectReceiveQueue(ReadOnlySpan<byte> frame)
    {
        int pairs = Volatile.Read(ref _activePairs);
        if (pairs == 1 || !FlowHash.TryCompute(frame, out uint hash))
        {
            return 0;
        }

        return SelectReceiveQueueForHash(hash, (ushort)pairs);
    }

    /// <summary>Learns a flow hash's queue (the frame-free core of <see cref="RecordTransmit(ReadOnlySpan{byte}, ushort)"/>).</summary>
    internal void RecordTransmitHash(uint hash, ushort transmitQueue)
    {
        if (transmitQueue >= Volatile.Read(ref _activePairs))
        {
            return;
        }

        int stamp = (Volatile.Read(ref _clock) + 1) & StampMask;
        Volatile.Write(ref _clock, stamp);   // a lost increment only ages a slot a little less
        long wanted = Pack(hash, transmitQueue, stamp);
        ref long set = ref _entries[(int)(hash & _setMask) * Ways];
        int victim = 0;
        int oldest = -1;
        for (int way = 0; way < Ways; way++)
        {
            long entry = Volatile.Read(ref Unsafe.Add(ref set, way));
            if (entry == 0)
            {
                if (oldest < StampMask + 1)
                {
                    victim = way;
                    oldest = StampMask + 1;   // an empty slot beats any used one
                }

                continue;
            }

            if (TagOf(entry) == hash)
            {
                if (QueueOf(entry) != transmitQueue || ((stamp - (int)entry) & StampMask) >= RefreshAge)
                {
                    Volatile.Write(ref Unsafe.Add(ref set, way), wanted);
                }

                return;
            }

            int age = (stamp - (int)entry) & StampMask;
            if (age > oldest)
            {
                victim = way;
                oldest = age;
            }
        }

        Volatile.Write(ref Unsafe.Add(ref set, victim), wanted);
    }

    /// <summary>The queue for a flow hash with <paramref name="pairs"/> active (the frame-free core of <see cref="SelectReceiveQueue(ReadOnlySpan{byte})"/>).</summary>
    internal ushort SelectReceiveQueueForHash(uint hash, ushort pairs)
    {
        ref long set = ref _entries[(int)(hash & _setMask) * Ways];
        for (int way = 0; way < Ways; way++)
        {
            long entry = Volatile.Read(ref Unsafe.Add(ref set, way));
            if (entry != 0 && TagOf(entry) == hash)
            {
                ushort queue = QueueOf(entry);
                if (queue < pairs)
                {
                    return queue;
                }

                break;
            }
        }

        return FlowHash.Reduce(hash, pairs);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long Pack(uint hash, ushort queue, int stamp) =>
        (long)((ulong)hash << 32 | (ulong)queue << 16) | ValidBit | (uint)stamp;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint TagOf(long entry) => (uint)((ulong)entry >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort QueueOf(long entry) => (ushort)(entry >> 16);
}
