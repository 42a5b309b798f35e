using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO;
using System.Net;
using VirtioRing.Net;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>
/// The guest's side of one TCP connection, just enough for a bulk transfer each way with a real
/// Linux peer (RFC 9293): a three-way handshake with an MSS option and no window scaling, sending
/// within the peer's window (go-back-N on a 200 ms stall) — as 64 KiB TSO super-frames with a partial
/// checksum when asked, so the kernel does the segmentation and the checksum — and receiving in
/// order with an ACK for every segment (what is out of order is dropped and the kernel retransmits).
/// </summary>
internal sealed class GuestTcp
{
    public const ushort Mss = 1460;
    private const ushort Window = 65535;
    private const int MaxSuperFramePayload = 65535 - Packets.Ipv4Header - Packets.TcpHeader;

    private readonly TapLab _lab;
    private readonly ushort _localPort;
    private readonly ushort _remotePort;
    private uint _iss;
    private uint _sndUna;
    private uint _sndNxt;
    private uint _rcvNxt;
    private int _peerWindow;
    private ushort _ipId = 1;

    public GuestTcp(TapLab lab, ushort localPort, ushort remotePort)
    {
        _lab = lab;
        _localPort = localPort;
        _remotePort = remotePort;
    }

    /// <summary>Gets the super-frames sent (GSO, NEEDS_CSUM).</summary>
    public int SuperFramesSent { get; private set; }

    /// <summary>Gets the frames received that the kernel left for the guest to segment (GSO type set).</summary>
    public int SuperFramesReceived { get; private set; }

    /// <summary>Gets the frames received marked NEEDS_CSUM (the kernel left the checksum to the guest).</summary>
    public int PartialChecksumsReceived { get; private set; }

    /// <summary>Gets the largest frame received.</summary>
    public int LargestReceived { get; private set; }

    public void Connect(int timeoutMs = 3000)
    {
        _iss = 0x1000_0000u + (uint)Environment.TickCount;
        SendSegment(_iss, Packets.TcpSyn, default, Packets.MssOption(Mss), offload: false);
        (byte[]? frame, _, _) = _lab.ReceiveIpv4(Packets.ProtocolTcp, ip => IsOurs(ip) && (Flags(ip) & (Packets.TcpSyn | Packets.TcpAck)) == (Packets.TcpSyn | Packets.TcpAck), timeoutMs);
        Assert.True(frame is not null, "no SYN-ACK from the kernel");
        ReadOnlySpan<byte> tcp = Tcp(Packets.Ipv4Packet(frame));
        Assert.Equal(unchecked(_iss + 1), BinaryPrimitives.ReadUInt32BigEndian(tcp.Slice(8)));
        _rcvNxt = unchecked(BinaryPrimitives.ReadUInt32BigEndian(tcp.Slice(4)) + 1);
        _peerWindow = BinaryPrimitives.ReadUInt16BigEndian(tcp.Slice(14));
        _sndUna = _sndNxt = unchecked(_iss + 1);
        SendSegment(_sndNxt, Packets.TcpAck, default, default, offload: false);
    }

    /// <summary>Sends <paramref name="data"/> and waits until all of it is acknowledged.</summary>
    /// <param name="data">The bytes.</param>
    /// <param name="tso">Send super-frames of up to 64 KiB with GSO TCPv4 and NEEDS_CSUM (else MSS-sized segments with full checksums).</param>
    /// <param name="timeoutMs">The longest the whole transfer may take.</param>
    public void Send(byte[] data, bool tso, int timeoutMs = 8000)
    {
        uint start = _sndUna;
        var clock = Stopwatch.StartNew();
        long lastProgress = 0;
        while (unchecked(_sndUna - start) < (uint)data.Length)
        {
            Assert.True(clock.ElapsedMilliseconds < timeoutMs, $"TCP send stalled at {unchecked(_sndUna - start)} of {data.Length} bytes");
            int offset = (int)unchecked(_sndNxt - start);
            while (offset < data.Length)
            {
                int inFlight = (int)unchecked(_sndNxt - _sndUna);
                int room = _peerWindow - inFlight;
                int chunk = Math.Min(data.Length - offset, tso ? MaxSuperFramePayload : Mss);
                if (room < Math.Min(chunk, Mss))
                {
                    break;   // wait for the window to open
                }

                chunk = Math.Min(chunk, room);
                SendSegment(_sndNxt, Packets.TcpAck | Packets.TcpPsh, data.AsSpan(offset, chunk), default, offload: tso);
                if (tso && chunk > Mss)
                {
                    SuperFramesSent++;
                }

                _sndNxt = unchecked(_sndNxt + (uint)chunk);
                offset += chunk;
            }

            (byte[]? frame, _, _) = _lab.ReceiveIpv4(Packets.ProtocolTcp, ip => IsOurs(ip) && (Flags(ip) & Packets.TcpAck) != 0, 200);
            if (frame is null)
            {
                if (clock.ElapsedMilliseconds - lastProgress > 200)
                {
                    _sndNxt = _sndUna;   // go back N: resend from the first unacknowledged byte
                    lastProgress = clock.ElapsedMilliseconds;
                }

                continue;
            }

            ReadOnlySpan<byte> tcp = Tcp(Packets.Ipv4Packet(frame));
            uint ack = BinaryPrimitives.ReadUInt32BigEndian(tcp.Slice(8));
            if (unchecked((int)(ack - _sndUna)) > 0 && unchecked((int)(ack - _sndNxt)) <= 0)
            {
                _sndUna = ack;
                lastProgress = clock.ElapsedMilliseconds;
            }

            _peerWindow = BinaryPrimitives.ReadUInt16BigEndian(tcp.Slice(14));
        }
    }

    /// <summary>Receives until the peer's FIN, acknowledging every in-order segment; checks every frame's checksums.</summary>
    /// <returns>The bytes received.</returns>
    public byte[] ReceiveToEnd(int timeoutMs = 8000)
    {
        var received = new MemoryStream();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            Assert.True(clock.ElapsedMilliseconds < timeoutMs, $"TCP receive stalled after {received.Length} bytes");
            (byte[]? frame, VirtioNetHeader header, _) = _lab.ReceiveIpv4(Packets.ProtocolTcp, IsOurs, 500);
            if (frame is null)
            {
                continue;
            }

            Assert.True(Packets.ChecksumsValid(frame, header, out string why), why);
            LargestReceived = Math.Max(LargestReceived, frame.Length);
            SuperFramesReceived += header.GsoType != NetGsoType.None ? 1 : 0;
            PartialChecksumsReceived += (header.Flags & NetHeaderFlags.NeedsChecksum) != 0 ? 1 : 0;
            ReadOnlySpan<byte> ip = Packets.Ipv4Packet(frame);
            ReadOnlySpan<byte> tcp = Tcp(ip);
            int dataOffset = (tcp[12] >> 4) * 4;
            ReadOnlySpan<byte> payload = tcp.Slice(dataOffset);
            uint seq = BinaryPrimitives.ReadUInt32BigEndian(tcp.Slice(4));
            bool fin = (Flags(ip) & Packets.TcpFin) != 0;
            if (seq == _rcvNxt)
            {
                received.Write(payload);
                _rcvNxt = unchecked(_rcvNxt + (uint)payload.Length + (fin ? 1u : 0u));
            }

            SendSegment(_sndNxt, Packets.TcpAck, default, default, offload: false);
            if (fin && seq + (uint)payload.Length + 1 == _rcvNxt)
            {
                return received.ToArray();
            }
        }
    }

    private static byte Flags(ReadOnlySpan<byte> ip) => Tcp(ip)[13];

    private static ReadOnlySpan<byte> Tcp(ReadOnlySpan<byte> ip) => ip.Slice(Packets.Ipv4HeaderLength(ip));

    private bool IsOurs(byte[] ip)
    {
        ReadOnlySpan<byte> tcp = Tcp(ip);
        return BinaryPrimitives.ReadUInt16BigEndian(tcp) == _remotePort && BinaryPrimitives.ReadUInt16BigEndian(tcp.Slice(2)) == _localPort;
    }

    private void SendSegment(uint seq, byte flags, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> options, bool offload)
    {
        byte[] tcp = Packets.Tcp(TapLab.GuestIp, TapLab.HostIp, _localPort, _remotePort, seq, _rcvNxt, flags, Window, payload, options, partialChecksum: offload);
        byte[] frame = _lab.Ipv4Frame(Packets.ProtocolTcp, tcp, _ipId++);
        VirtioNetHeader header = default;
        if (offload)
        {
            // What a Linux guest's virtio-net driver sends for a TSO skb (virtio 1.3 §5.1.6.2).
            header.Flags = NetHeaderFlags.NeedsChecksum;
            header.ChecksumStart = Packets.EthernetHeader + Packets.Ipv4Header;
            header.ChecksumOffset = 16;
            if (payload.Length > Mss)
            {
                header.GsoType = NetGsoType.TcpV4;
                header.GsoSize = Mss;
                header.HeaderLength = Packets.EthernetHeader + Packets.Ipv4Header + Packets.TcpHeader;
            }
        }

        _lab.Send(frame, header);
    }
}
