using System;
using System.Buffers.Binary;
using System.IO;
using VirtioRing.Net;
using Xunit;

namespace VirtioRing.Linux.Tests.Packet;

/// <summary>
/// Just enough of a TCP endpoint, in the test's guest, to move a byte stream to or from a kernel socket through the
/// backend: handshake, in-window sending with go-back-N on a stall, cumulative ACKs, FIN. Every segment is built
/// here, so the test controls how each one asks for offloads (checksum done, <c>NEEDS_CSUM</c>, TSO).
/// </summary>
internal sealed class GuestTcp
{
    public const int Mss = 1460;
    private readonly PacketLab _lab;
    private readonly ushort _port;
    private readonly ushort _peerPort;
    private readonly uint _iss;
    private uint _peerNext;   // next sequence number expected from the peer
    private ushort _peerWindow;

    private GuestTcp(PacketLab lab, ushort port, ushort peerPort, uint iss)
    {
        _lab = lab;
        _port = port;
        _peerPort = peerPort;
        _iss = iss;
    }

    /// <summary>Gets how many received segments carried a GSO request (a super-frame the ring passed whole).</summary>
    public int GsoSegmentsReceived { get; private set; }

    /// <summary>Gets how many segments were sent with <c>NEEDS_CSUM</c> and how many as TSO super-frames.</summary>
    public (int Partial, int Tso) Sent { get; private set; }

    /// <summary>Connects to the kernel's listener (SYN with an MSS option, no window scaling).</summary>
    public static GuestTcp Connect(PacketLab lab, ushort port, ushort peerPort)
    {
        var tcp = new GuestTcp(lab, port, peerPort, 0x1000_0000);
        tcp.Segment(tcp._iss, 0, TestFrames.TcpSyn, [], mss: Mss);
        var synAck = lab.WaitForFrame((f, h) => TestFrames.IsTcp(f, peerPort, port, out _, out uint ack, out byte flags, out _, out _) &&
            (flags & (TestFrames.TcpSyn | TestFrames.TcpAck)) == (TestFrames.TcpSyn | TestFrames.TcpAck) && ack == tcp._iss + 1);
        Assert.True(synAck is not null, "no SYN-ACK from the kernel: " + lab.Describe());
        TestFrames.IsTcp(synAck.Value.Frame, peerPort, port, out uint seq, out _, out _, out ushort window, out _);
        tcp._peerNext = seq + 1;
        tcp._peerWindow = window;
        tcp.Segment(tcp._iss + 1, tcp._peerNext, TestFrames.TcpAck, []);
        return tcp;
    }

    /// <summary>
    /// Sends <paramref name="data"/> and waits until the kernel acknowledged all of it, then sends FIN. Segments
    /// rotate through three forms: checksum done, <c>NEEDS_CSUM</c>, and (with <paramref name="useTso"/>) a TSO
    /// super-frame of up to four segments with <c>NEEDS_CSUM</c>.
    /// </summary>
    public void SendAll(ReadOnlySpan<byte> data, bool useTso, int timeoutMs = 30_000)
    {
        long deadline = Environment.TickCount64 + timeoutMs;
        int acked = 0;
        int sent = 0;
        int turn = 0;
        int partial = 0;
        int tso = 0;
        long lastProgress = Environment.TickCount64;
        while (acked < data.Length)
        {
            Assert.True(Environment.TickCount64 < deadline, $"the transfer stalled: {acked} of {data.Length} bytes acknowledged");
            int window = Math.Max(_peerWindow, (ushort)Mss);
            while (sent < data.Length && sent - acked < window)
            {
                int kind = turn++ % 3;
                int room = Math.Min(data.Length - sent, window - (sent - acked));
                int size = kind == 2 && useTso ? Math.Min(4 * Mss, room) : Math.Min(Mss, room);
                ReadOnlySpan<byte> chunk = data.Slice(sent, size);
                uint seq = _iss + 1 + (uint)sent;
                if (kind == 2 && useTso && size > Mss)
                {
                    VirtioNetHeader h = TestFrames.NeedsChecksum(tcp: true);
                    h.GsoType = NetGsoType.TcpV4;
                    h.GsoSize = Mss;
                    h.HeaderLength = TestFrames.EthernetLength + TestFrames.Ipv4Length + TestFrames.TcpLength;
                    Segment(seq, _peerNext, TestFrames.TcpAck | TestFrames.TcpPsh, chunk, header: h);
                    tso++;
                }
                else if (kind != 0)
                {
                    Segment(seq, _peerNext, TestFrames.TcpAck, chunk, header: TestFrames.NeedsChecksum(tcp: true));
                    partial++;
                }
                else
                {
                    Segment(seq, _peerNext, TestFrames.TcpAck, chunk);
                }

                sent += size;
            }

            // Take every ACK that is there (or wait a little for one).
            var ackFrame = _lab.WaitForFrame((f, h) => TestFrames.IsTcp(f, _peerPort, _port, out _, out _, out byte flags, out _, out _) && (flags & TestFrames.TcpAck) != 0, 200);
            while (ackFrame is not null)
            {
                TestFrames.IsTcp(ackFrame.Value.Frame, _peerPort, _port, out _, out uint ack, out byte flags, out ushort window2, out _);
                Assert.True((flags & TestFrames.TcpRst) == 0, "the kernel reset the connection");
                int now = (int)(ack - (_iss + 1));
                if (now > acked && now <= data.Length)
                {
                    acked = now;
                    lastProgress = Environment.TickCount64;
                }

                _peerWindow = window2;
                ackFrame = _lab.WaitForFrame((f, h) => TestFrames.IsTcp(f, _peerPort, _port, out _, out _, out byte fl, out _, out _) && (fl & TestFrames.TcpAck) != 0, 0);
            }

            if (Environment.TickCount64 - lastProgress > 1000)
            {
                sent = acked;   // go back N: resend from the first unacknowledged byte
                lastProgress = Environment.TickCount64;
            }
        }

        Sent = (partial, tso);
        Segment(_iss + 1 + (uint)data.Length, _peerNext, TestFrames.TcpFin | TestFrames.TcpAck, []);
    }

    /// <summary>Receives the kernel's stream until its FIN, acknowledging every in-order segment.</summary>
    public byte[] ReceiveAll(int expected, int timeoutMs = 30_000)
    {
        var received = new MemoryStream();
        uint mySeq = _iss + 1;
        long deadline = Environment.TickCount64 + timeoutMs;
        while (true)
        {
            Assert.True(Environment.TickCount64 < deadline, $"the transfer stalled at {received.Length} of {expected} bytes");
            var frame = _lab.WaitForFrame((f, h) => TestFrames.IsTcp(f, _peerPort, _port, out _, out _, out _, out _, out _), 500);
            if (frame is null)
            {
                Segment(mySeq, _peerNext, TestFrames.TcpAck, []);   // a duplicate ACK asks for a retransmission
                continue;
            }

            if (frame.Value.Header.GsoType != NetGsoType.None)
            {
                GsoSegmentsReceived++;
            }

            TestFrames.IsTcp(frame.Value.Frame, _peerPort, _port, out uint seq, out _, out byte flags, out _, out ReadOnlySpan<byte> payload);
            Assert.True((flags & TestFrames.TcpRst) == 0, "the kernel reset the connection");
            if (seq == _peerNext)
            {
                received.Write(payload);
                _peerNext += (uint)payload.Length;
                if ((flags & TestFrames.TcpFin) != 0)
                {
                    _peerNext++;
                    Segment(mySeq, _peerNext, TestFrames.TcpAck | TestFrames.TcpFin, []);
                    return received.ToArray();
                }
            }

            Segment(mySeq, _peerNext, TestFrames.TcpAck, []);
        }
    }

    private void Segment(uint seq, uint ack, byte flags, ReadOnlySpan<byte> payload, VirtioNetHeader header = default, ushort mss = 0)
    {
        bool partial = (header.Flags & NetHeaderFlags.NeedsChecksum) != 0;
        byte[] frame = TestFrames.Tcp(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, _port, _peerPort,
            seq, ack, flags, 65535, payload, partial, mss);
        _lab.Send(0, frame, header);
    }
}
