using System;
using System.Collections.Generic;
using System.Buffers.Binary;
using System.Threading;
using VirtioRing.Net;
using VirtioRing.Net.Driver;
using VirtioRing.Net.InProcess;
using VirtioRing.Net.Offload;

namespace InterGuestLan;

/// <summary>
/// One thread of a guest's application, bound to one queue pair (as a Linux stack binds a CPU to a
/// queue): it sends the flows the driver's flow-hash selector puts on its pair, round-robin, to every
/// other guest; receives on its pair in place; and checks every message end to end.
/// </summary>
/// <remarks>
/// <para>The symmetric flow hash puts a flow and its reverse on the same pair index in both guests,
/// and the device's automatic steering delivers a flow on the pair its guest transmits it on, so the
/// messages of one (sender, flow) reach one receive queue: the per-flow sequence check is this
/// thread's alone.</para>
/// <para>Counters are written by this thread only and read by the display thread (64-bit reads are
/// atomic on the 64-bit runtimes this sample targets). The per-frame loops allocate nothing: frames
/// are built in one buffer, received frames are checked in the driver's buffers (or copied into one
/// scratch buffer when they span several).</para>
/// </remarks>
internal sealed class PairWorker
{
    private const int SendBatch = 32;
    private const int ReceiveBudget = 64;

    private readonly LanOptions _options;
    private readonly RunControl _control;
    private readonly MacAddress _mac;
    private readonly NetDriver _driver;
    private readonly int _pair;
    private readonly int _flowsPerPeer;
    private readonly Flow[] _flows;
    private readonly byte[] _frame;
    private readonly byte[] _scratch;
    private readonly ulong[] _expected;   // next sequence number per (sender, flow)
    private readonly VirtioNetHeader _sendHeader;
    private readonly int _messageLength;
    private readonly int _messagesPerFrame;
    private readonly long _quota;
    private readonly Thread _thread;
    private int _next;
    private bool _transmitFull;
    private string? _firstError;

    /// <summary>Creates the worker of pair <paramref name="pair"/> of guest <paramref name="id"/>.</summary>
    /// <param name="id">The guest id.</param>
    /// <param name="pair">The queue pair.</param>
    /// <param name="guest">The guest.</param>
    /// <param name="flows">This pair's flows: (destination, flow index) pairs the selector put here.</param>
    /// <param name="quota">The most frames to send (0: no limit).</param>
    /// <param name="options">The run's options.</param>
    /// <param name="control">The run's phases.</param>
    public PairWorker(int id, int pair, InProcessGuest guest, List<(int Destination, int Flow)> flows, long quota, LanOptions options, RunControl control)
    {
        Id = id;
        _pair = pair;
        Guest = guest;
        _mac = Wire.MacOf(id);
        _options = options;
        _control = control;
        _driver = guest.Driver;
        _quota = quota;
        _flowsPerPeer = options.FlowsPerPeer;
        int frameLength = options.Tso ? Wire.TsoFrameSize : options.FrameSize;
        _messagesPerFrame = options.Tso ? Wire.TsoSegments : 1;
        _messageLength = options.Tso ? Wire.TsoSegmentPayload : options.FrameSize - Wire.UdpHeaders;
        _frame = new byte[frameLength];
        _scratch = new byte[Wire.TsoFrameSize + 256];
        _expected = new ulong[options.Guests * _flowsPerPeer];
        SentTo = new long[options.Guests];
        ReceivedFrom = new long[options.Guests];
        _flows = new Flow[flows.Count];
        for (int i = 0; i < flows.Count; i++)
        {
            var headers = new byte[Wire.TcpHeaders];
            int length = Wire.WriteHeaders(headers, id, flows[i].Destination, flows[i].Flow, frameLength, options.Tso);
            _flows[i] = new Flow(flows[i].Destination, flows[i].Flow, headers.AsMemory(0, length));
        }

        if (options.Tso)
        {
            // §5.1.6.2: NEEDS_CSUM over the TCP header and payload, GSO TCPv4 cut at one message per segment.
            _sendHeader = new VirtioNetHeader
            {
                Flags = NetHeaderFlags.NeedsChecksum,
                GsoType = NetGsoType.TcpV4,
                HeaderLength = Wire.TcpHeaders,
                GsoSize = Wire.TsoSegmentPayload,
                ChecksumStart = Wire.TransportOffset,
                ChecksumOffset = 16,
            };
        }

        _thread = new Thread(Run) { Name = $"guest {id} pair {pair}", IsBackground = true };
    }

    /// <summary>Gets the guest id.</summary>
    public int Id { get; }

    /// <summary>Gets the guest.</summary>
    public InProcessGuest Guest { get; }

    /// <summary>Gets the number of flows this worker sends.</summary>
    public int FlowCount => _flows.Length;

    /// <summary>Gets the messages sent to each guest.</summary>
    public long[] SentTo { get; }

    /// <summary>Gets the messages received from each guest (verified or not).</summary>
    public long[] ReceivedFrom { get; }

#pragma warning disable SA1401, CA1051 // counters: plain fields, so the display thread can Volatile.Read them
    public long SentFrames;
    public long SentBytes;
    public long ReceivedFrames;
    public long ReceivedBytes;
    public long Verified;
    public long Corrupt;
    public long OutOfOrder;
    public long Gaps;
    public long NotForUs;
    public volatile bool FinishedSending;
    public volatile bool Exited;
#pragma warning restore SA1401, CA1051

    /// <summary>Gets the first check that failed, or an exception the thread ended with.</summary>
    public string? FirstError => Volatile.Read(ref _firstError);

    /// <summary>Starts the thread.</summary>
    public void Start() => _thread.Start();

    /// <summary>Waits for the thread to end.</summary>
    /// <param name="millisecondsTimeout">The longest wait.</param>
    /// <returns>Whether it ended.</returns>
    public bool Join(int millisecondsTimeout) => _thread.Join(millisecondsTimeout);

    private void Run()
    {
        try
        {
            var checker = new FrameChecker(this);
            bool sending = true;
            while (!_control.Done)
            {
                int work = 0;
                if (sending)
                {
                    work += Send();
                    if (_control.StopSending || (_quota != 0 && SentFrames >= _quota))
                    {
                        sending = false;
                        FinishedSending = true;
                    }
                }

                work += _driver.ReceiveBatch(_pair, ref checker, ReceiveBudget);
                if (work == 0)
                {
                    Idle(sending);
                }
            }
        }
        catch (Exception e)
        {
            Fail($"guest {Id} pair {_pair}: {e.GetType().Name}: {e.Message}");
            _control.RequestStop($"guest {Id} failed");
        }
        finally
        {
            FinishedSending = true;
            Exited = true;
        }
    }

    /// <summary>Sends up to one batch round-robin over the flows; stops at a full transmit queue (that frame is built again next round, same sequence number).</summary>
    private int Send()
    {
        _transmitFull = false;
        if (_flows.Length == 0)
        {
            return 0;
        }

        int sent = 0;
        Span<byte> frame = _frame;
        for (; sent < SendBatch && (_quota == 0 || SentFrames < _quota); sent++)
        {
            ref Flow flow = ref _flows[_next];
            flow.Headers.Span.CopyTo(frame);
            int offset = flow.Headers.Length;
            for (int m = 0; m < _messagesPerFrame; m++)
            {
                Wire.WriteMessage(frame.Slice(offset, _messageLength), Id, flow.Destination, flow.Index, flow.NextSequence + (ulong)m);
                offset += _messageLength;
            }

            if (_options.Tso)
            {
                Wire.SetTcpSequence(frame, flow.NextSequence);
            }

            NetDriverStatus s = _driver.Enqueue(_pair, frame, _sendHeader);
            if (s == NetDriverStatus.QueueFull)
            {
                _transmitFull = true;
                break;
            }

            if (s != NetDriverStatus.Ok)
            {
                throw new InvalidOperationException($"transmit queue: {s} ({_driver.GetFault((2 * _pair) + 1)})");
            }

            flow.NextSequence += (ulong)_messagesPerFrame;
            SentTo[flow.Destination] += _messagesPerFrame;
            SentFrames++;
            SentBytes += frame.Length;
            _next = _next + 1 == _flows.Length ? 0 : _next + 1;
        }

        if (sent != 0)
        {
            _driver.Flush(_pair);
        }

        return sent;
    }

    /// <summary>
    /// Nothing moved this round. With the transmit queue full, sleep until the device completes
    /// sends (its call on the transmit queue); otherwise until a frame arrives (the receive queue's
    /// call). Either way first ask for the interrupt and look again (enable-and-recheck, §2.7.10),
    /// never sleep while received frames wait, and wake at least every millisecond to look at both.
    /// </summary>
    private void Idle(bool sending)
    {
        int rx = 2 * _pair;
        int tx = rx + 1;
        if (_driver.EnableUsedNotifications(rx))
        {
            _driver.DisableUsedNotifications(rx);
            return;
        }

        if (sending && _transmitFull)
        {
            if (!_driver.EnableUsedNotifications(tx))
            {
                Guest.GetCall(tx).Wait(1);
            }

            _driver.DisableUsedNotifications(tx);
        }
        else
        {
            Guest.GetCall(rx).Wait(sending ? 1 : 10);
        }

        _driver.DisableUsedNotifications(rx);
    }

    /// <summary>Checks one received frame (called by <see cref="FrameChecker"/> inside <see cref="NetDriver.ReceiveBatch{TReceiver}"/>).</summary>
    /// <param name="header">The frame's virtio-net header.</param>
    /// <param name="received">The frame in the driver's buffers.</param>
    public void Check(in VirtioNetHeader header, in NetReceivedFrame received)
    {
        // Broadcasts (the start-up announcements) and unicast flooded before the switch learned the
        // destination (§ NetSwitch: unknown unicast goes to every port) are not ours: a guest's stack
        // would drop them too.
        ReadOnlySpan<byte> first = received.GetBuffer(0);
        if (first.Length >= MacAddress.Length && MacAddress.Read(first) != _mac)
        {
            NotForUs++;
            return;
        }

        ReceivedFrames++;
        ReceivedBytes += received.Length;
        Span<byte> frame;
        bool needsChecksum = (header.Flags & NetHeaderFlags.NeedsChecksum) != 0;
        if (received.BufferCount == 1 && !needsChecksum)
        {
            Verify(received.GetBuffer(0));
            return;
        }

        if (received.Length > _scratch.Length)
        {
            Corrupt++;
            Fail($"guest {Id} pair {_pair}: a {received.Length}-byte frame is longer than any frame sent");
            return;
        }

        frame = _scratch.AsSpan(0, received.CopyTo(_scratch));
        if (needsChecksum && ChecksumOffload.TryCompleteChecksum(frame, header.ChecksumStart, header.ChecksumOffset) != OffloadError.None)
        {
            Corrupt++;
            Fail($"guest {Id} pair {_pair}: NEEDS_CSUM outside the frame (start {header.ChecksumStart}, offset {header.ChecksumOffset})");
            return;
        }

        Verify(frame);
    }

    private void Verify(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < Wire.UdpHeaders + Wire.MessageHeaderLength)
        {
            Corrupt++;
            Fail($"guest {Id} pair {_pair}: a {frame.Length}-byte runt");
            return;
        }

        ReceiveChecksumResult sums = ChecksumOffload.ValidateReceived(frame);
        if (!sums.IsDataValid)
        {
            Corrupt++;
            Fail($"guest {Id} pair {_pair}: checksums: {sums}");
            return;
        }

        int sender = Wire.SenderOf(frame);
        if ((uint)sender >= (uint)_options.Guests || sender == Id || MacAddress.Read(frame.Slice(6)) != Wire.MacOf(sender))
        {
            Corrupt++;
            Fail($"guest {Id} pair {_pair}: a frame from an unknown sender ({MacAddress.Read(frame.Slice(6))})");
            return;
        }

        bool tcp = frame[Wire.EthernetLength + 9] == InternetChecksum.ProtocolTcp;
        int start = tcp ? Wire.TcpHeaders : Wire.UdpHeaders;
        int end = Wire.EthernetLength + BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(Wire.EthernetLength + 2));
        int messageLength = tcp ? Wire.TsoSegmentPayload : end - start;
        if (tcp != _options.Tso || end > frame.Length || end - start < messageLength || (end - start) % messageLength != 0)
        {
            Corrupt++;
            Fail($"guest {Id} pair {_pair}: a frame from guest {sender} has a payload of {end - start} bytes");
            return;
        }

        for (int at = start; at < end; at += messageLength)
        {
            ReceivedFrom[sender]++;
            if (!Wire.TryReadMessage(frame.Slice(at, messageLength), out int s, out int d, out int flow, out ulong sequence) ||
                s != sender || d != Id || flow >= _flowsPerPeer)
            {
                Corrupt++;
                Fail($"guest {Id} pair {_pair}: a corrupt message from guest {sender} (names {s} -> {d}, flow {flow}, sequence {sequence})");
                continue;
            }

            if (tcp && at == start && BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(Wire.TransportOffset + 4)) != Wire.TcpSequenceOf(sequence))
            {
                Corrupt++;
                Fail($"guest {Id} pair {_pair}: TCP sequence number of message {sequence} from guest {sender} is wrong");
                continue;
            }

            ref ulong expected = ref _expected[(sender * _flowsPerPeer) + flow];
            if (sequence < expected)
            {
                OutOfOrder++;
                Fail($"guest {Id} pair {_pair}: message {sequence} of flow {flow} from guest {sender} after {expected - 1}");
                continue;
            }

            Gaps += (long)(sequence - expected);
            expected = sequence + 1;
            Verified++;
        }
    }

    private void Fail(string message) => Interlocked.CompareExchange(ref _firstError, message, null);

    /// <summary>A flow to one peer: its fixed headers and its next sequence number.</summary>
    private struct Flow(int destination, int index, ReadOnlyMemory<byte> headers)
    {
        public readonly int Destination = destination;
        public readonly int Index = index;
        public readonly ReadOnlyMemory<byte> Headers = headers;
        public ulong NextSequence;
    }

    /// <summary>Hands frames to <see cref="Check"/>; a struct, so <see cref="NetDriver.ReceiveBatch{TReceiver}"/> calls it without virtual dispatch.</summary>
    private readonly struct FrameChecker(PairWorker worker) : INetFrameReceiver
    {
        public void OnFrame(in VirtioNetHeader header, in NetReceivedFrame frame) => worker.Check(header, frame);
    }
}
