using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Tap;

/// <summary>
/// One queue of a <see cref="TapBackend"/>: its descriptor (referenced for the backend's lifetime, so
/// the hot path uses the raw number), preallocated native I/O vectors and header buffers, and its
/// counters. <see cref="Gate"/> is the queue's lock: every <c>readv</c>/<c>writev</c> runs under it,
/// so a device-wide change of the virtio-net header size (which takes every queue's lock) never
/// meets a frame in flight with the old size.
/// </summary>
/// <remarks>Counters are written by the thread driving the queue (one at a time, under the lock)
/// and by the readiness thread (<see cref="Wakeups"/> only, with <see cref="Interlocked"/>).</remarks>
[DebuggerDisplay("TAP queue {Index} (fd {Fd}, faulted = {IsFaulted})")]
internal sealed unsafe class TapQueue : INotifier
{
    /// <summary>The largest frame read in the fallback path: a 64 KiB super-frame, its Ethernet header and two VLAN tags, rounded up (as the engine's own limit).</summary>
    public const int MaxReceiveFrame = 65664;

    /// <summary>The header area: the largest virtio-net header, padded.</summary>
    private const int HeaderArea = 32;

    private readonly TapBackend _owner;
    private readonly SafeFileDescriptor _handle;
    private bool _referenced;
    private byte* _header;          // HeaderArea bytes: the transmit header, then the receive overflow probe
    private iovec* _iov;            // IOV_MAX entries, for one call at a time (under the lock)
    private byte* _bounce;          // lazily: a transmit frame with more pieces than IOV_MAX - 1, gathered
    private byte* _receiveBuffer;   // lazily: the fallback path's frame buffer (header + MaxReceiveFrame)
    private Exception? _fault;
    private int _faulted;

    public TapQueue(TapBackend owner, int index, SafeFileDescriptor handle)
    {
        _owner = owner;
        Index = index;
        _handle = handle;
        handle.DangerousAddRef(ref _referenced);
        Fd = (int)handle.DangerousGetHandle();
        _header = (byte*)NativeMemory.AllocZeroed(HeaderArea);
        _iov = (iovec*)NativeMemory.AllocZeroed((nuint)(Tun.IOV_MAX * sizeof(iovec)));
        Reader = new TapDirectReader(owner, this);
    }

    /// <summary>The queue's lock: held around every <c>readv</c>/<c>writev</c> and by <see cref="Close"/>.</summary>
    public readonly object Gate = new();

    public int Index { get; }

    /// <summary>Gets the descriptor number (valid until <see cref="Close"/>).</summary>
    public int Fd { get; }

    public SafeFileDescriptor Handle => _handle;

    /// <summary>Gets the queue's reader for <see cref="INetDirectReceiveHost.ReceiveDirect"/>.</summary>
    public TapDirectReader Reader { get; }

    /// <summary>Gets whether <see cref="Close"/> ran (checked under the lock before any I/O).</summary>
    public bool Closed { get; private set; }

    public bool IsFaulted => Volatile.Read(ref _faulted) != 0;

    public Exception? Fault => Volatile.Read(ref _fault);

    /// <summary>Gets or sets whether <c>EPOLLOUT</c> is armed for this queue (the transmitting thread only).</summary>
    public bool OutputArmed { get; set; }

    /// <summary>Gets or sets the length of a frame read in the fallback path and not yet delivered (the host had no buffers), or 0.</summary>
    public int PendingLength { get; set; }

    /// <summary>Gets or sets the header size the pending frame was read with.</summary>
    public int PendingHeaderSize { get; set; }

    public long TransmittedFrames;
    public long TransmittedBytes;
    public long TransmittedGsoFrames;
    public long TransmitBusy;
    public long TransmitRejected;
    public long TransmitLinkDown;
    public long TransmitErrors;
    public long DroppedAfterFault;
    public long ReceivedFrames;
    public long ReceivedBytes;
    public long ReceiveTruncated;
    public long ReceiveRefused;
    public long ReceiveErrors;
    public long Wakeups;

    public byte* Header => _header;

    /// <summary>Gets the one-byte overflow probe placed after a read's buffers: a frame that reaches it did not fit.</summary>
    public byte* Probe => _header + HeaderArea - 1;

    public iovec* Iov => _iov;

    /// <summary>Gets the bounce buffer (allocated on first use; <see cref="TapBackend.MaxTransmitFrame"/> bytes).</summary>
    public byte* Bounce => _bounce != null ? _bounce : _bounce = (byte*)NativeMemory.Alloc(TapBackend.MaxTransmitFrame);

    /// <summary>Gets the fallback receive buffer (allocated on first use; the largest header plus <see cref="MaxReceiveFrame"/>).</summary>
    public byte* ReceiveBuffer => _receiveBuffer != null ? _receiveBuffer : _receiveBuffer = (byte*)NativeMemory.Alloc(HeaderArea + MaxReceiveFrame);

    /// <summary>Marks the queue failed for good; returns <see langword="true"/> the first time only.</summary>
    public bool TrySetFault(Exception fault)
    {
        if (Interlocked.CompareExchange(ref _faulted, 1, 0) != 0)
        {
            return false;
        }

        Volatile.Write(ref _fault, fault);
        return true;
    }

    /// <summary>The host's receive buffers are back (after a delivery found none): wake this queue.</summary>
    public void Notify() => _owner.WakeHost(Index);

    public TapQueueCounters Snapshot() => new(
        Volatile.Read(ref TransmittedFrames), Volatile.Read(ref TransmittedBytes), Volatile.Read(ref TransmittedGsoFrames),
        Volatile.Read(ref TransmitBusy), Volatile.Read(ref TransmitRejected), Volatile.Read(ref TransmitLinkDown),
        Volatile.Read(ref TransmitErrors), Volatile.Read(ref DroppedAfterFault), Volatile.Read(ref ReceivedFrames),
        Volatile.Read(ref ReceivedBytes), Volatile.Read(ref ReceiveTruncated), Volatile.Read(ref ReceiveRefused),
        Volatile.Read(ref ReceiveErrors), Interlocked.Read(ref Wakeups));

    /// <summary>Stops all I/O (under the lock), frees the native buffers and gives the descriptor reference back.</summary>
    public void Close()
    {
        lock (Gate)
        {
            if (Closed)
            {
                return;
            }

            Closed = true;
            NativeMemory.Free(_header);
            NativeMemory.Free(_iov);
            NativeMemory.Free(_bounce);
            NativeMemory.Free(_receiveBuffer);
            _header = null;
            _iov = null;
            _bounce = null;
            _receiveBuffer = null;
            if (_referenced)
            {
                _referenced = false;
                _handle.DangerousRelease();
            }
        }
    }
}
