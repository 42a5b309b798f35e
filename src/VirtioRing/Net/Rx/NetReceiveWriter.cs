using System;
using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using VirtioRing.Queues;

namespace VirtioRing.Net.Rx;

/// <summary>
/// The device side of a virtio-net receive queue: writes one received frame, header first, into as
/// many available chains as it takes (virtio 1.3 §5.1.6.4 with <c>MRG_RXBUF</c>: every buffer but
/// the last filled completely, <c>num_buffers</c> in the first header) or into exactly one chain
/// (the big- and small-buffer modes, <c>num_buffers</c> = 1), and pushes each chain as used with
/// the bytes written into it. The caller publishes (<see cref="IDeviceQueue.PublishUsed"/>) and
/// notifies — once per batch of frames, so all of a frame's buffers become visible together.
/// </summary>
/// <remarks>
/// <para>A queue cannot take back a chain it popped, so when the ring runs dry in the middle of a
/// frame the writer keeps the chains it popped (in pop order, up to a bounded count) and uses them
/// first for the next frame: nothing is written, nothing is pushed, the frame is not lost
/// (<see cref="NetReceiveStatus.NoBuffers"/>). Held chains are pushed in the order they were popped,
/// so <c>IN_ORDER</c> holds.</para>
/// <para>Guest-controlled sizes are summed in 64 bits; a driver offering tiny or zero-length buffers
/// gets its frames spread over more chains, up to the held-chain bound, and then
/// <see cref="NetReceiveStatus.FrameTooLarge"/> — never a hang or an exception. A buffer shorter
/// than the header (each must hold one, §5.1.6.3.1) is still used in its turn and counted in
/// <c>num_buffers</c>; the header then straddles buffers. A conforming driver never sees that.</para>
/// <para>Without <c>MRG_RXBUF</c> only the next chain in pop order is used; when it cannot hold the
/// frame the frame is refused and the chain stays held for the next one (as QEMU unpops it).</para>
/// <para>One writer per receive queue, and nothing else pops that queue. Not thread-safe.
/// Allocation-free after construction.</para>
/// </remarks>
[DebuggerDisplay("{Mode} held={HeldCount}")]
public sealed partial class NetReceiveWriter
{
    /// <summary>The longest frame without GSO: 14-byte Ethernet header + 1500 (§5.1.6.3).</summary>
    public const int SmallFrameLength = 1514;

    /// <summary>The longest frame with receive GSO: 14 + 40 (IPv6 header) + 65535 (§5.1.6.3).</summary>
    public const int LargeFrameLength = 65589;

    private readonly IDeviceQueue _queue;
    private readonly DescriptorChain[] _held;   // FIFO ring of popped, unused chains
    private readonly uint[] _take;               // bytes planned per frame chain (parallel to the FIFO order)
    private int _heldHead;
    private int _heldCount;
    private int _heldDescriptors;                // ring descriptors the held chains occupy

    /// <summary>Creates a writer for one receive queue.</summary>
    /// <param name="queue">The device side of the receive queue.</param>
    /// <param name="layout">The header layout (<see cref="NetHeaderLayout.For"/> of the negotiated features).</param>
    /// <param name="mode">The receive mode (<see cref="ModeFor"/> of the negotiated features).</param>
    /// <param name="maxFrameLength">The longest frame (without the virtio header) to deliver; 0 for the mode's default (<see cref="SmallFrameLength"/> for small buffers, else <see cref="LargeFrameLength"/>). With <c>VIRTIO_NET_F_MTU</c>, pass mtu + 14.</param>
    /// <param name="maxHeldChains">The most chains held at once, and so the most buffers one frame may use; 0 for min(queue size, 1024).</param>
    /// <exception cref="ArgumentNullException"><paramref name="queue"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A length or count is negative, or <paramref name="mode"/> is undefined.</exception>
    public NetReceiveWriter(IDeviceQueue queue, NetHeaderLayout layout, NetReceiveMode mode, int maxFrameLength = 0, int maxHeldChains = 0)
    {
        if (queue is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(queue));
        }

        if ((uint)mode > (uint)NetReceiveMode.SmallBuffers)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(mode));
        }

        if (maxFrameLength < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(maxFrameLength));
        }

        if (maxHeldChains < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(maxHeldChains));
        }

        VirtioNetHeader probe = default;
        Span<byte> scratch = stackalloc byte[NetHeaderLayout.HashReportSize];
        probe.Write(scratch, layout);   // validates the layout once (throws ArgumentException)

        _queue = queue;
        Layout = layout;
        Mode = mode;
        MaxFrameLength = maxFrameLength != 0 ? maxFrameLength : mode == NetReceiveMode.SmallBuffers ? SmallFrameLength : LargeFrameLength;
        int capacity = maxHeldChains != 0 ? maxHeldChains : Math.Min(queue.Size, 1024);
        capacity = Math.Max(1, Math.Min(capacity, ushort.MaxValue));   // num_buffers is a u16
        _held = new DescriptorChain[capacity];
        _take = new uint[capacity];
    }

    /// <summary>Gets the receive queue.</summary>
    public IDeviceQueue Queue => _queue;

    /// <summary>Gets the header layout.</summary>
    public NetHeaderLayout Layout { get; }

    /// <summary>Gets the receive mode.</summary>
    public NetReceiveMode Mode { get; }

    /// <summary>Gets the longest frame delivered (without the virtio header).</summary>
    public int MaxFrameLength { get; }

    /// <summary>Gets the most chains held at once.</summary>
    public int HeldCapacity => _held.Length;

    /// <summary>Gets the number of chains popped and held for the next frame.</summary>
    public int HeldCount => _heldCount;

    /// <summary>Gets the receive mode a negotiated set implies (§5.1.6.3.1).</summary>
    /// <param name="negotiated">The negotiated features.</param>
    /// <returns>Mergeable with <c>MRG_RXBUF</c>; big buffers with a receive GSO feature; else small buffers.</returns>
    public static NetReceiveMode ModeFor(NetFeatures negotiated)
    {
        if ((negotiated & NetFeatures.MrgRxBuf) != 0)
        {
            return NetReceiveMode.Mergeable;
        }

        const NetFeatures Gso = NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.GuestUfo | NetFeatures.GuestUso4 | NetFeatures.GuestUso6;
        return (negotiated & Gso) != 0 ? NetReceiveMode.BigBuffers : NetReceiveMode.SmallBuffers;
    }

    /// <summary>Writes a frame given as one span.</summary>
    /// <param name="header">The header to write; its <see cref="VirtioNetHeader.NumBuffers"/> is replaced by the buffer count.</param>
    /// <param name="frame">The frame, Ethernet header onwards.</param>
    /// <returns>The outcome.</returns>
    public NetReceiveResult Deliver(in VirtioNetHeader header, ReadOnlySpan<byte> frame)
    {
        if (_heldCount == 0 && frame.Length <= MaxFrameLength)
        {
            ulong direct = (ulong)Layout.Size + (ulong)frame.Length;
            if (TryPopDirect(direct, out DescriptorChain chain, out Span<byte> segment, out NetReceiveStatus status))
            {
                int at = WriteHeaderTo(segment, header);
                frame.CopyTo(segment.Slice(at));
                return PushDirect(chain, direct);
            }

            if (status != NetReceiveStatus.Delivered)
            {
                return new NetReceiveResult(status, 0, 0);
            }
        }

        NetReceiveStatus s = Reserve(frame.Length, out int count, out ulong needed);
        if (s != NetReceiveStatus.Delivered)
        {
            return new NetReceiveResult(s, 0, 0);
        }

        if (TryTakeSingle(count, needed, out Span<byte> single))
        {
            int at = WriteHeaderTo(single, header);
            frame.CopyTo(single.Slice(at));
            return CommitSingle(needed);
        }

        var cursor = new Cursor(_held, _heldHead, count);
        WriteHeader(ref cursor, header, count);
        cursor.Write(frame);
        return Commit(ref cursor, count, needed);
    }

    /// <summary>Writes a frame given as a gather of memory blocks.</summary>
    /// <param name="header">The header to write; its <see cref="VirtioNetHeader.NumBuffers"/> is replaced by the buffer count.</param>
    /// <param name="frame">The frame, Ethernet header onwards.</param>
    /// <returns>The outcome.</returns>
    public NetReceiveResult Deliver(in VirtioNetHeader header, in ReadOnlySequence<byte> frame)
    {
        long length = frame.Length;
        NetReceiveStatus s = Reserve(length > int.MaxValue ? int.MaxValue : (int)length, out int count, out ulong needed);
        if (s != NetReceiveStatus.Delivered)
        {
            return new NetReceiveResult(s, 0, 0);
        }

        var cursor = new Cursor(_held, _heldHead, count);
        WriteHeader(ref cursor, header, count);
        foreach (ReadOnlyMemory<byte> block in frame)
        {
            cursor.Write(block.Span);
        }

        return Commit(ref cursor, count, needed);
    }

    /// <summary>
    /// Writes a frame that sits in another chain's device-readable bytes — a transmit chain of a peer
    /// guest — with exactly one copy, guest to guest.
    /// </summary>
    /// <param name="header">The header to write; its <see cref="VirtioNetHeader.NumBuffers"/> is replaced by the buffer count.</param>
    /// <param name="source">A held chain (of any queue) holding the frame in its readable segments.</param>
    /// <param name="sourceOffset">Where the frame starts in the readable bytes (typically the transmit header size).</param>
    /// <param name="length">The frame length.</param>
    /// <returns>The outcome.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the chain's readable bytes.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="source"/> is not held.</exception>
    public NetReceiveResult Deliver(in VirtioNetHeader header, in DescriptorChain source, uint sourceOffset, int length)
    {
        if (length < 0 || (ulong)sourceOffset + (ulong)length > source.ReadableLength)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(length), "The frame range is outside the source chain's readable bytes.");
        }

        if (_heldCount == 0 && length <= MaxFrameLength)
        {
            ulong direct = (ulong)Layout.Size + (ulong)length;
            if (TryPopDirect(direct, out DescriptorChain chain, out Span<byte> segment, out NetReceiveStatus status))
            {
                int at = WriteHeaderTo(segment, header);
                CopyReadable(source, sourceOffset, segment.Slice(at, length));
                return PushDirect(chain, direct);
            }

            if (status != NetReceiveStatus.Delivered)
            {
                return new NetReceiveResult(status, 0, 0);
            }
        }

        NetReceiveStatus s = Reserve(length, out int count, out ulong needed);
        if (s != NetReceiveStatus.Delivered)
        {
            return new NetReceiveResult(s, 0, 0);
        }

        if (TryTakeSingle(count, needed, out Span<byte> single))
        {
            // The common case: header and frame fit the next chain's one writable segment.
            int at = WriteHeaderTo(single, header);
            CopyReadable(source, sourceOffset, single.Slice(at, length));
            return CommitSingle(needed);
        }

        var cursor = new Cursor(_held, _heldHead, count);
        WriteHeader(ref cursor, header, count);
        uint skip = sourceOffset;
        int left = length;
        for (int i = 0; i < source.ReadableCount && left > 0; i++)
        {
            Span<byte> seg = source.GetSpan(i);
            if (skip >= (uint)seg.Length)
            {
                skip -= (uint)seg.Length;
                continue;
            }

            seg = seg.Slice((int)skip);
            skip = 0;
            int n = Math.Min(seg.Length, left);
            cursor.Write(seg.Slice(0, n));
            left -= n;
        }

        return Commit(ref cursor, count, needed);
    }

    /// <summary>
    /// Pushes every held chain back as used with nothing written (before saving the queue state, or
    /// when stopping), in pop order. The caller publishes.
    /// </summary>
    /// <returns>The number of chains pushed.</returns>
    public int ReturnHeld()
    {
        int n = _heldCount;
        for (int i = 0; i < n; i++)
        {
            _queue.PushUsed(_held[Slot(i)], 0);
        }

        Forget();
        return n;
    }

    /// <summary>Drops the held chains without pushing them (after the queue was reset or restored: they are stale).</summary>
    public void Forget()
    {
        Array.Clear(_held, 0, _held.Length);
        _heldHead = 0;
        _heldCount = 0;
        _heldDescriptors = 0;
    }

    private int Slot(int i)
    {
        int s = _heldHead + i;
        return s >= _held.Length ? s - _held.Length : s;
    }

    /// <summary>
    /// Makes sure the queue has room for <paramref name="count"/> frames written one after the other
    /// (each <paramref name="length"/> bytes, the last <paramref name="lastLength"/>), popping and
    /// holding chains as needed; writes nothing. The engine's all-or-nothing check before it
    /// delivers the segments of one GSO frame.
    /// </summary>
    /// <returns><see cref="NetReceiveStatus.Delivered"/> when they all fit; <see cref="NetReceiveStatus.NoBuffers"/>
    /// (what was popped stays held); <see cref="NetReceiveStatus.FrameTooLarge"/> when they never can at once;
    /// <see cref="NetReceiveStatus.QueueBroken"/>.</returns>
    internal NetReceiveStatus ReserveFrames(int count, int length, int lastLength)
    {
        if (_queue.IsBroken)
        {
            Forget();
            return NetReceiveStatus.QueueBroken;
        }

        if (length > MaxFrameLength || lastLength > MaxFrameLength)
        {
            return NetReceiveStatus.FrameTooLarge;
        }

        bool mergeable = Mode == NetReceiveMode.Mergeable;
        int k = 0;
        for (int f = 0; f < count; f++)
        {
            ulong needed = (ulong)Layout.Size + (ulong)(f == count - 1 ? lastLength : length);
            ulong have = 0;
            int used = 0;
            while (have < needed)
            {
                if (!mergeable && used == 1)
                {
                    return NetReceiveStatus.FrameTooLarge;
                }

                if (k == _heldCount)
                {
                    NetReceiveStatus s = PopOne();
                    if (s != NetReceiveStatus.Delivered)
                    {
                        return s;
                    }
                }

                have += _held[Slot(k)].WritableLength;
                k++;
                used++;
            }
        }

        return NetReceiveStatus.Delivered;
    }

    /// <summary>Makes sure enough chains are held for the frame, popping as needed, and plans each chain's share.</summary>
    private NetReceiveStatus Reserve(int frameLength, out int count, out ulong needed)
    {
        count = 0;
        needed = (ulong)Layout.Size + (ulong)frameLength;
        if (_queue.IsBroken)
        {
            Forget();
            return NetReceiveStatus.QueueBroken;
        }

        if (frameLength > MaxFrameLength)
        {
            return NetReceiveStatus.FrameTooLarge;
        }

        bool mergeable = Mode == NetReceiveMode.Mergeable;
        ulong have = 0;
        int k = 0;
        while (have < needed)
        {
            if (!mergeable && k == 1)
            {
                // One buffer per frame without MRG_RXBUF (§5.1.6.3.2): it must hold the whole frame.
                return NetReceiveStatus.FrameTooLarge;
            }

            if (k == _heldCount)
            {
                NetReceiveStatus s = PopOne();
                if (s != NetReceiveStatus.Delivered)
                {
                    return s;
                }
            }

            DescriptorChain c = _held[Slot(k)];
            ulong take = Math.Min((ulong)c.WritableLength, needed - have);
            _take[k] = (uint)take;
            have += take;
            k++;
        }

        count = k;
        return NetReceiveStatus.Delivered;
    }

    /// <summary>
    /// The common case with nothing held: pops the next chain and, when its writable part is one segment
    /// that holds <paramref name="needed"/> bytes, gets that segment — the chain stays a local (never
    /// stored in the held FIFO) and the caller writes into it and calls <see cref="PushDirect"/>.
    /// Otherwise the popped chain is held as <see cref="PopOne"/> would hold it and the caller takes the
    /// general path (<paramref name="status"/> <see cref="NetReceiveStatus.Delivered"/>), or nothing was
    /// popped and <paramref name="status"/> says why, exactly as <see cref="Reserve"/> would.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryPopDirect(ulong needed, out DescriptorChain chain, out Span<byte> segment, out NetReceiveStatus status)
    {
        Debug.Assert(_heldCount == 0, "only with nothing held (pop order)");
        segment = default;
        status = NetReceiveStatus.Delivered;
        PopStatus popped = _queue.TryPopAvailable(out chain);
        if (popped == PopStatus.Popped)
        {
            if (chain.SegmentCount - chain.ReadableCount == 1)
            {
                Span<byte> s = chain.GetSpan(chain.ReadableCount);
                if ((ulong)s.Length >= needed)
                {
                    segment = s.Slice(0, (int)needed);
                    return true;
                }
            }

            _held[_heldHead] = chain;
            _heldCount = 1;
            _heldDescriptors += chain.DescriptorCount;
            return false;
        }

        if (popped == PopStatus.Empty)
        {
            status = _heldDescriptors >= _queue.Size ? NetReceiveStatus.FrameTooLarge : NetReceiveStatus.NoBuffers;
        }
        else
        {
            Forget();
            status = NetReceiveStatus.QueueBroken;
        }

        return false;
    }

    /// <summary>Pushes the chain of <see cref="TryPopDirect"/> with the <paramref name="needed"/> bytes written into it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private NetReceiveResult PushDirect(in DescriptorChain chain, ulong needed)
    {
        _queue.PushUsed(chain, (uint)needed);
        return new NetReceiveResult(NetReceiveStatus.Delivered, 1, (uint)needed);
    }

    private NetReceiveStatus PopOne()
    {
        if (_heldCount == _held.Length)
        {
            return NetReceiveStatus.FrameTooLarge;   // more buffers than one frame may use
        }

        switch (_queue.TryPopAvailable(out DescriptorChain chain))
        {
            case PopStatus.Popped:
                _held[Slot(_heldCount)] = chain;
                _heldCount++;
                _heldDescriptors += chain.DescriptorCount;
                return NetReceiveStatus.Delivered;
            case PopStatus.Empty:
                // Every ring descriptor is in a chain held here: the driver cannot add more, so
                // waiting would never end.
                return _heldDescriptors >= _queue.Size ? NetReceiveStatus.FrameTooLarge : NetReceiveStatus.NoBuffers;
            default:
                Forget();
                return NetReceiveStatus.QueueBroken;
        }
    }

    /// <summary>When the frame takes one chain whose writable part is one segment, gets that segment (it holds <paramref name="needed"/> bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryTakeSingle(int count, ulong needed, out Span<byte> segment)
    {
        ref readonly DescriptorChain c = ref _held[_heldHead];
        if (count == 1 && c.SegmentCount - c.ReadableCount == 1)
        {
            segment = c.GetSpan(c.ReadableCount);
            if ((ulong)segment.Length >= needed)
            {
                segment = segment.Slice(0, (int)needed);
                return true;
            }
        }

        segment = default;
        return false;
    }

    /// <summary>Writes the header of a one-buffer frame (<c>num_buffers</c> = 1) at the start of <paramref name="destination"/>; returns its size.</summary>
    private int WriteHeaderTo(Span<byte> destination, in VirtioNetHeader header)
    {
        VirtioNetHeader h = header;
        h.NumBuffers = 1;   // §5.1.6.4: one buffer
        return h.Write(destination, Layout);
    }

    /// <summary>Copies <paramref name="destination"/>.Length bytes of <paramref name="source"/>'s readable part, from <paramref name="offset"/>.</summary>
    private static void CopyReadable(in DescriptorChain source, uint offset, Span<byte> destination)
    {
        for (int i = 0; i < source.ReadableCount && !destination.IsEmpty; i++)
        {
            Span<byte> seg = source.GetSpan(i);
            if (offset >= (uint)seg.Length)
            {
                offset -= (uint)seg.Length;
                continue;
            }

            int n = Math.Min(seg.Length - (int)offset, destination.Length);
            seg.Slice((int)offset, n).CopyTo(destination);
            destination = destination.Slice(n);
            offset = 0;
        }
    }

    /// <summary>Pushes the one chain of a one-buffer frame.</summary>
    private NetReceiveResult CommitSingle(ulong needed)
    {
        ref DescriptorChain c = ref _held[_heldHead];
        _queue.PushUsed(c, (uint)needed);
        _heldDescriptors -= c.DescriptorCount;
        c = default;
        _heldCount--;
        _heldHead = _heldCount == 0 ? 0 : Slot(1);
        return new NetReceiveResult(NetReceiveStatus.Delivered, 1, (uint)needed);
    }

    [SkipLocalsInit]
    private void WriteHeader(ref Cursor cursor, in VirtioNetHeader header, int count)
    {
        VirtioNetHeader h = header;
        h.NumBuffers = (ushort)count;   // §5.1.6.4: the first header carries the buffer count (1 without MRG_RXBUF)
        Span<byte> bytes = stackalloc byte[NetHeaderLayout.HashReportSize];
        int n = h.Write(bytes, Layout);
        cursor.Write(bytes.Slice(0, n));
    }

    private NetReceiveResult Commit(ref Cursor cursor, int count, ulong needed)
    {
        Debug.Assert(cursor.Written == needed, "the planned chains hold exactly the header and the frame");
        for (int i = 0; i < count; i++)
        {
            _queue.PushUsed(_held[Slot(i)], _take[i]);
            _heldDescriptors -= _held[Slot(i)].DescriptorCount;
            _held[Slot(i)] = default;
        }

        _heldHead = Slot(count);
        _heldCount -= count;
        if (_heldCount == 0)
        {
            _heldHead = 0;
        }

        return new NetReceiveResult(NetReceiveStatus.Delivered, count, (uint)needed);
    }

    /// <summary>A scatter position over the writable segments of the frame's chains, in order.</summary>
    private ref struct Cursor
    {
        private readonly DescriptorChain[] _chains;
        private readonly int _head;
        private readonly int _count;
        private int _chain;
        private int _segment;
        private Span<byte> _rest;

        public Cursor(DescriptorChain[] chains, int head, int count)
        {
            _chains = chains;
            _head = head;
            _count = count;
            _chain = 0;
            _segment = -1;
            _rest = default;
            Written = 0;
        }

        public ulong Written { get; private set; }

        public void Write(scoped ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty)
            {
                if (_rest.IsEmpty && !Advance())
                {
                    Debug.Fail("the planned chains ran out of room");
                    return;
                }

                int n = Math.Min(_rest.Length, data.Length);
                data.Slice(0, n).CopyTo(_rest);
                _rest = _rest.Slice(n);
                data = data.Slice(n);
                Written += (uint)n;
            }
        }

        private bool Advance()
        {
            while (_chain < _count)
            {
                int slot = _head + _chain;
                ref readonly DescriptorChain c = ref _chains[slot >= _chains.Length ? slot - _chains.Length : slot];
                _segment = _segment < 0 ? c.ReadableCount : _segment + 1;
                if (_segment < c.SegmentCount)
                {
                    _rest = c.GetSpan(_segment);
                    if (!_rest.IsEmpty)
                    {
                        return true;
                    }

                    continue;
                }

                _chain++;
                _segment = -1;
            }

            return false;
        }
    }
}
