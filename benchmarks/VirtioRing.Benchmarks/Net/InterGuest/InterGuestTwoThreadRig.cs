using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Threading;
using VirtioRing.Net;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Engine;
using VirtioRing.Net.InProcess;
using VirtioRing.Net.Switching;

namespace VirtioRing.Benchmarks.Net.InterGuest;

/// <summary>
/// Guest to guest through the switch on two threads, one per side (one pair, <see cref="NetWorkerMode.Manual"/>):
/// the caller's thread is guest A's side (A's driver enqueues batches and flushes, A's device polls: the switch copies
/// each frame from A's transmit chain into B's receive buffers, and holds A's chain while B has none — lossless); a
/// second thread, started once and kept spinning across invocations, is guest B's side (B's driver receives batches in
/// place and reposts; when B's ring is empty it spins). Work is handed over through two counters: the frames A has
/// been told to send (<see cref="_target"/>, written by A) and the frames B has received (<see cref="_received"/>,
/// written by B), both cumulative, so nothing is reset or allocated per invocation.
/// </summary>
internal sealed class InterGuestTwoThreadRig : IDisposable
{
    private const int FrameSlots = 32;
    private const int WakeSpinLimit = 1024;
    private static readonly long StallTicks = Stopwatch.Frequency * 10;

    private readonly InterGuestRig _guests;
    private readonly byte[][] _frames;
    private readonly Thread _receiverThread;
    private readonly int _batch;
    private long _sent;
    private long _target;
    private long _received;
    private int _stop;
    private int _verify;
    private bool _holding;
    private Exception? _failure;
    private FrameReceiver _receiver;

    public InterGuestTwoThreadRig(bool packed, int frameLength, int batch)
    {
        _batch = batch;
        _guests = new InterGuestRig(packed, 1, frameLength, NetWorkerMode.Manual);
        _frames = new byte[FrameSlots][];
        for (int i = 0; i < FrameSlots; i++)
        {
            _frames[i] = MakeFrame(_guests.B.Mac, _guests.A.Mac, frameLength, (ushort)(20000 + i));
        }

        // Both sides poll, so neither wants interrupts: B's receive call and A's transmit-completion call stay off
        // (A reclaims its transmit buffers when it runs short, B looks at its ring whenever it has frames to expect).
        _guests.B.Driver.DisableUsedNotifications(0);
        _guests.A.Driver.DisableUsedNotifications(1);
        _receiver = new FrameReceiver(_frames);
        _receiverThread = new Thread(ReceiverLoop) { IsBackground = true, Name = "guest B side" };
        _receiverThread.Start();
    }

    /// <summary>Gets the frames received by B since the rig was built.</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>Gets the frames sent by A since the rig was built.</summary>
    public long Sent => _sent;

    /// <summary>Gets how often A's device was told Busy and kept A's chain (the switch held it: B had no buffers).</summary>
    public long HeldRetries => _guests.A.Device.GetCounters(1).Busy;

    /// <summary>
    /// Gets how often A's chain became held (one hold episode: from the first Busy until the chain goes). Every retry
    /// within an episode is counted again by <see cref="HeldRetries"/> and, when it follows a timed-out spin, by
    /// <see cref="WakeTimeouts"/>, so a single long stall of B's side adds many of those and only one of these.
    /// </summary>
    public long HoldEpisodes { get; private set; }

    /// <summary>Gets how often A, holding a chain, saw its pair signalled during the bounded spin (B's refill kick, or an earlier notification).</summary>
    public long WakeUps { get; private set; }

    /// <summary>Gets how often A, holding a chain, retried without a wake-up after its bounded spin.</summary>
    public long WakeTimeouts { get; private set; }

    /// <summary>
    /// Gets the <see cref="WakeTimeouts"/> during which B's side received nothing (its count did not move for the whole
    /// spin): B was not running (pre-empted), so there was no refill to be woken by. The rest — B received frames during
    /// the spin and A saw no wake-up — is what a lost wake-up would look like (or B's batch finished just before the
    /// hold, a benign race), and should stay near 0.
    /// </summary>
    public long StalledTimeouts { get; private set; }

    /// <summary>Gets how often B's device found no receive buffer for a delivery (each such attempt was held, not dropped).</summary>
    public long NoBufferAttempts => _guests.B.Device.GetCounters(0).NoBuffer;

    /// <summary>
    /// Gets the frames dropped on the path (must stay 0: the switch is lossless): A's transmit drops and both switch
    /// ports' drops. B's receive-queue NoBuffer count is not among them: in lossless mode each such attempt is held.
    /// </summary>
    public long Drops => _guests.A.Device.GetCounters(1).TotalDrops + PortDrops(_guests.A) + PortDrops(_guests.B);

    /// <summary>
    /// Sends <paramref name="frames"/> frames from A and returns when B has received all of them (both sides spin).
    /// With <paramref name="verify"/> B compares every frame's bytes with what A sent.
    /// </summary>
    public int Run(int frames, bool verify = false)
    {
        if (verify)
        {
            Volatile.Write(ref _verify, 1);
        }

        long target = _sent + frames;
        Volatile.Write(ref _target, target);   // B's side starts receiving (it never receives past this)

        NetDriver a = _guests.A.Driver;
        NetQueuePair pair = _guests.A.Device.GetPair(0);
        long sent = _sent;
        while (sent < target)
        {
            int want = (int)Math.Min(_batch, target - sent);
            int added = 0;
            while (added < want && a.Enqueue(0, _frames[(int)(sent + added) & (FrameSlots - 1)], default) == NetDriverStatus.Ok)
            {
                added++;
            }

            sent += added;
            if (added > 0)
            {
                a.Flush(0);
            }

            PollA(pair);
        }

        _sent = sent;

        // Whatever is still on A's ring or held by the switch goes as B reposts.
        long start = 0;
        int spins = 0;
        while (Volatile.Read(ref _received) < target)
        {
            PollA(pair);
            if (++spins == 1 << 20)
            {
                spins = 0;
                CheckStalled(ref start, target);
            }
        }

        if (verify)
        {
            Volatile.Write(ref _verify, 0);
        }

        ThrowIfFailed();
        return frames;
    }

    public void Dispose()
    {
        Volatile.Write(ref _stop, 1);
        _receiverThread.Join();
        _guests.Dispose();
    }

    private static byte[] MakeFrame(MacAddress destination, MacAddress source, int length, ushort sourcePort)
    {
        byte[] f = new byte[length];
        new Random(sourcePort).NextBytes(f);
        destination.WriteTo(f);
        source.WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(14);
        ip[0] = 0x45;
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(length - 14));
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(4), 0x4000);   // DF
        ip[8] = 64;
        ip[9] = 6;   // TCP
        ip[10] = ip[11] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(12), 0x0a000001);
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(16), 0x0a000002);
        Span<byte> tcp = ip.Slice(20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(2), 5201);
        tcp[12] = 0x50;
        tcp[13] = 0x10;   // ACK
        return f;
    }

    /// <summary>
    /// One round of A's device. When the switch kept A's chain (B had no buffers), the next round waits (spinning)
    /// for the wake-up B's refill brings — B's kick on its receive queue, which the switch forwards to A's pair — as
    /// a device worker does, instead of retrying into B's ring back to back; after a bounded spin it retries anyway.
    /// </summary>
    private void PollA(NetQueuePair pair)
    {
        pair.Poll(_batch);
        if (!pair.HasHeldChain)
        {
            _holding = false;
            return;
        }

        if (!_holding)
        {
            _holding = true;
            HoldEpisodes++;
        }

        // The pair signal is what B's refill kick sets (through the switch's waiter and A's host.Wake); A's own
        // transmit kicks set it too, so a wake-up here is "signalled", not necessarily "B refilled".
        long receivedBefore = Volatile.Read(ref _received);
        WorkerSignal wake = pair.Signal;
        for (int i = 0; !wake.Wait(0); i++)
        {
            if (i == WakeSpinLimit)
            {
                WakeTimeouts++;
                if (Volatile.Read(ref _received) == receivedBefore)
                {
                    StalledTimeouts++;
                }

                return;
            }

            Thread.SpinWait(4);
        }

        WakeUps++;
    }

    private static long PortDrops(InProcessGuest guest)
    {
        NetSwitchPortCounters c = ((NetSwitchPort)guest.Device.Backend).GetCounters();
        return c.DroppedFiltered + c.DroppedNoBuffers + c.DroppedNoRoute + c.DroppedQueueDown + c.DroppedBadFrame;
    }

    private void CheckStalled(ref long start, long target)
    {
        ThrowIfFailed();
        long now = Stopwatch.GetTimestamp();
        if (start == 0)
        {
            start = now;
        }
        else if (now - start > StallTicks)
        {
            throw new InvalidOperationException(
                $"B received {Volatile.Read(ref _received)} of {target} frames in 10 s (drops {Drops}, held retries {HeldRetries}).");
        }
    }

    private void ThrowIfFailed()
    {
        if (Volatile.Read(ref _failure) is { } e)
        {
            throw new InvalidOperationException("Guest B's side failed.", e);
        }
    }

    /// <summary>Guest B's side: receive while A has frames outstanding; spin (yielding only while idle) otherwise.</summary>
    private void ReceiverLoop()
    {
        try
        {
            NetDriver b = _guests.B.Driver;
            long received = 0;
            var idle = default(SpinWait);
            while (Volatile.Read(ref _stop) == 0)
            {
                if (received >= Volatile.Read(ref _target))
                {
                    idle.SpinOnce(sleep1Threshold: -1);   // between invocations: no Sleep(1), so A never waits a timer tick
                    continue;
                }

                idle.Reset();
                _receiver.Verify = Volatile.Read(ref _verify) != 0;
                int n = b.ReceiveBatch(0, ref _receiver, _batch);
                if (n > 0)
                {
                    received += n;
                    Volatile.Write(ref _received, received);
                }
                else if (b.GetFault(0) != NetDriverFault.None)
                {
                    throw new InvalidOperationException($"B's receive queue faulted: {b.GetFault(0)}.");
                }
            }
        }
        catch (Exception e)
        {
            Volatile.Write(ref _failure, e);
        }
    }

    /// <summary>Touches each frame (its first byte); in verify mode compares it with the frame A sent in that slot.</summary>
    private struct FrameReceiver(byte[][] expected) : INetFrameReceiver
    {
        public long Frames;
        public long Bytes;
        public bool Verify;

        public void OnFrame(in VirtioNetHeader header, in NetReceivedFrame frame)
        {
            if (Verify)
            {
                byte[] want = expected[(int)Frames & (FrameSlots - 1)];
                Span<byte> got = new byte[frame.Length];
                if (frame.CopyTo(got) != want.Length || !got.SequenceEqual(want))
                {
                    throw new InvalidOperationException($"Frame {Frames} differs from the one A sent.");
                }
            }

            Frames++;
            Bytes += frame.Length + frame.GetBuffer(0)[0];
        }
    }
}
