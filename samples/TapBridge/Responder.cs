using System;
using System.Buffers.Binary;
using System.Threading;
using VirtioRing.Net;
using VirtioRing.Net.InProcess;
using VirtioRing.Net.Offload;

namespace TapBridge;

/// <summary>
/// The guest's side of the bridge: a minimal host stack on one queue pair that answers ARP requests and ICMP echo
/// requests for its address, so the kernel's <c>ping</c> in the namespace reaches it through the TAP. Everything
/// else is counted and ignored.
/// </summary>
internal sealed class Responder
{
    private readonly InProcessGuest _guest;
    private readonly int _pair;
    private readonly MacAddress _mac;
    private readonly uint _ip;
    private long _arpAnswered;
    private long _echoAnswered;
    private long _received;
    private long _ignored;

    public Responder(InProcessGuest guest, int pair, MacAddress mac, uint ip)
    {
        _guest = guest;
        _pair = pair;
        _mac = mac;
        _ip = ip;
    }

    public long ArpAnswered => Interlocked.Read(ref _arpAnswered);

    public long EchoAnswered => Interlocked.Read(ref _echoAnswered);

    public long Received => Interlocked.Read(ref _received);

    public long Ignored => Interlocked.Read(ref _ignored);

    /// <summary>Serves the pair until <paramref name="stop"/> is cancelled.</summary>
    public void Run(CancellationToken stop)
    {
        var frame = new byte[65600];
        var reply = new byte[2048];
        while (!stop.IsCancellationRequested)
        {
            if (!_guest.Driver.TryReceive(_pair, frame, out _, out int length))
            {
                _guest.WaitForUsed(2 * _pair, 100);
                continue;
            }

            Interlocked.Increment(ref _received);
            int n = Answer(frame.AsSpan(0, length), reply);
            if (n > 0 && _guest.Driver.TrySend(_pair, reply.AsSpan(0, n), default))
            {
                continue;
            }

            if (n == 0)
            {
                Interlocked.Increment(ref _ignored);
            }
        }
    }

    /// <summary>Builds the answer to <paramref name="frame"/> in <paramref name="reply"/>; returns its length, or 0 for none.</summary>
    private int Answer(ReadOnlySpan<byte> frame, Span<byte> reply)
    {
        if (frame.Length < 42)
        {
            return 0;
        }

        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(12));
        if (type == 0x0806)
        {
            return AnswerArp(frame, reply);
        }

        return type == 0x0800 ? AnswerEcho(frame, reply) : 0;
    }

    private int AnswerArp(ReadOnlySpan<byte> frame, Span<byte> reply)
    {
        // htype 1, ptype IPv4, hlen 6, plen 4, op 1 (request), target IP ours.
        if (BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(14)) != 1
            || BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(16)) != 0x0800
            || frame[18] != 6 || frame[19] != 4
            || BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(20)) != 1
            || BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(38)) != _ip)
        {
            return 0;
        }

        reply.Slice(0, 60).Clear();
        frame.Slice(22, 6).CopyTo(reply);            // to the requester
        _mac.WriteTo(reply.Slice(6));
        BinaryPrimitives.WriteUInt16BigEndian(reply.Slice(12), 0x0806);
        frame.Slice(14, 6).CopyTo(reply.Slice(14));  // htype, ptype, hlen, plen
        BinaryPrimitives.WriteUInt16BigEndian(reply.Slice(20), 2);
        _mac.WriteTo(reply.Slice(22));
        BinaryPrimitives.WriteUInt32BigEndian(reply.Slice(28), _ip);
        frame.Slice(22, 10).CopyTo(reply.Slice(32));  // the requester's MAC and IP
        Interlocked.Increment(ref _arpAnswered);
        return 60;
    }

    private int AnswerEcho(ReadOnlySpan<byte> frame, Span<byte> reply)
    {
        int ihl = (frame[14] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(16));
        if (frame[14] >> 4 != 4 || ihl < 20 || total < ihl + 8 || 14 + total > frame.Length || 14 + total > reply.Length
            || frame[23] != 1 || BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(30)) != _ip || frame[14 + ihl] != 8)
        {
            return 0;
        }

        int length = 14 + total;
        frame.Slice(0, length).CopyTo(reply);
        frame.Slice(6, 6).CopyTo(reply);
        _mac.WriteTo(reply.Slice(6));
        frame.Slice(30, 4).CopyTo(reply.Slice(26));   // swap the addresses
        frame.Slice(26, 4).CopyTo(reply.Slice(30));
        reply[22] = 64;                                // TTL
        reply[24] = 0;
        reply[25] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(reply.Slice(24), InternetChecksum.Compute(reply.Slice(14, ihl)));
        Span<byte> icmp = reply.Slice(14 + ihl, total - ihl);
        icmp[0] = 0;                                   // echo reply
        icmp[2] = 0;
        icmp[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.Slice(2), InternetChecksum.Compute(icmp));
        Interlocked.Increment(ref _echoAnswered);
        return Math.Max(length, 60);
    }
}
