using System;
using System.Buffers.Binary;
using VirtioRing.Net;
using VirtioRing.Net.Offload;

namespace InterGuestLan;

/// <summary>
/// The frames the guests exchange: Ethernet / IPv4 / UDP (or TCP for TSO) carrying one or more
/// <em>messages</em>. A message is a 16-byte header — sender, destination, flow, sequence number and
/// a check word over them and the message length — followed by a slice of a fixed byte pattern chosen
/// by those fields, so a message delivered to the wrong guest, torn, stale or reordered is caught.
/// </summary>
/// <remarks>
/// A plain frame carries one message in its UDP payload. A TSO super-frame carries
/// <see cref="TsoSegments"/> messages of <see cref="TsoSegmentPayload"/> bytes each, so every TCP
/// segment the device cuts it into (gso_size = one message) is a whole message on its own.
/// </remarks>
internal static class Wire
{
    /// <summary>Ethernet header bytes (no VLAN tag).</summary>
    public const int EthernetLength = 14;

    /// <summary>IPv4 header bytes (no options).</summary>
    public const int IPv4Length = 20;

    /// <summary>UDP header bytes.</summary>
    public const int UdpLength = 8;

    /// <summary>TCP header bytes (no options).</summary>
    public const int TcpLength = 20;

    /// <summary>Where the transport header starts.</summary>
    public const int TransportOffset = EthernetLength + IPv4Length;

    /// <summary>Headers before a UDP payload.</summary>
    public const int UdpHeaders = TransportOffset + UdpLength;

    /// <summary>Headers before a TCP payload (virtio <c>hdr_len</c> of a TSO frame).</summary>
    public const int TcpHeaders = TransportOffset + TcpLength;

    /// <summary>Bytes of a message header.</summary>
    public const int MessageHeaderLength = 16;

    /// <summary>The smallest frame: UDP headers and one message header (plus 6 pattern bytes at 64).</summary>
    public const int MinFrameSize = 64;

    /// <summary>The largest frame without TSO (a jumbo frame).</summary>
    public const int MaxFrameSize = 9000;

    /// <summary>TCP payload of each TSO segment (gso_size): a 1514-byte frame on the wire.</summary>
    public const int TsoSegmentPayload = 1460;

    /// <summary>Segments (messages) in a TSO super-frame: 44 × 1460 = 64240 bytes of payload, IPv4 total length 64280.</summary>
    public const int TsoSegments = 44;

    /// <summary>The length of a TSO super-frame.</summary>
    public const int TsoFrameSize = TcpHeaders + (TsoSegments * TsoSegmentPayload);

    private const uint FirstAddress = 0x0A00_0001;   // 10.0.0.1 is guest 0

    /// <summary>The payload pattern: period 256 (i × 157 + 59 is a permutation of the bytes), long enough for any offset plus the longest message.</summary>
    private static readonly byte[] s_pattern = CreatePattern();

    /// <summary>Gets guest <paramref name="guest"/>'s MAC address: 52:54:00:4c:00:nn (locally administered, QEMU's prefix).</summary>
    /// <param name="guest">The guest id (0-based).</param>
    /// <returns>The address.</returns>
    public static MacAddress MacOf(int guest) => new(0x5254_004C_0000UL | (uint)(guest + 1));

    /// <summary>
    /// Writes the headers of a flow's frames (everything the message bytes do not change): Ethernet,
    /// IPv4 with its header checksum, and UDP (checksum 0: absent, RFC 768) or TCP (the pseudo-header
    /// sum in the checksum field, as a <c>NEEDS_CSUM</c> driver leaves it, §5.1.6.2).
    /// </summary>
    /// <param name="frame">At least <see cref="TcpHeaders"/> bytes.</param>
    /// <param name="sender">The sending guest.</param>
    /// <param name="destination">The receiving guest.</param>
    /// <param name="flow">The flow (sets both ports, so the reverse flow hashes alike).</param>
    /// <param name="frameLength">The whole frame's length.</param>
    /// <param name="tcp">TCP (TSO) rather than UDP.</param>
    /// <returns>The header length (<see cref="UdpHeaders"/> or <see cref="TcpHeaders"/>).</returns>
    public static int WriteHeaders(Span<byte> frame, int sender, int destination, int flow, int frameLength, bool tcp)
    {
        MacOf(destination).WriteTo(frame);
        MacOf(sender).WriteTo(frame.Slice(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(12), 0x0800);

        Span<byte> ip = frame.Slice(EthernetLength, IPv4Length);
        int ipLength = frameLength - EthernetLength;
        ip[0] = 0x45;                                                   // version 4, IHL 5
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)ipLength);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), 0);         // identification
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(6), 0x4000);    // DF
        ip[8] = 64;
        ip[9] = tcp ? InternetChecksum.ProtocolTcp : InternetChecksum.ProtocolUdp;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(10), 0);
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(12), FirstAddress + (uint)sender);
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(16), FirstAddress + (uint)destination);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(10), InternetChecksum.Compute(ip));

        ushort port = (ushort)(40000 + flow);
        Span<byte> l4 = frame.Slice(TransportOffset);
        BinaryPrimitives.WriteUInt16BigEndian(l4, port);
        BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(2), port);
        if (!tcp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(4), (ushort)(ipLength - IPv4Length));
            BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(6), 0);
            return UdpHeaders;
        }

        BinaryPrimitives.WriteUInt32BigEndian(l4.Slice(4), 0);          // sequence: per frame, see SetTcpSequence
        BinaryPrimitives.WriteUInt32BigEndian(l4.Slice(8), 0);          // acknowledgment
        l4[12] = 0x50;                                                  // data offset 5
        l4[13] = 0x18;                                                  // ACK | PSH
        BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(14), 0xFFFF);    // window
        ushort pseudo = InternetChecksum.PseudoHeaderSumIPv4(ip.Slice(12, 4), ip.Slice(16, 4), InternetChecksum.ProtocolTcp, (ushort)(ipLength - IPv4Length));
        BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(16), pseudo);
        BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(18), 0);         // urgent pointer
        return TcpHeaders;
    }

    /// <summary>Writes the TCP sequence number of a TSO frame whose first message is <paramref name="firstMessage"/>.</summary>
    /// <param name="frame">The frame.</param>
    /// <param name="firstMessage">The flow's sequence number of the frame's first message.</param>
    public static void SetTcpSequence(Span<byte> frame, ulong firstMessage) =>
        BinaryPrimitives.WriteUInt32BigEndian(frame.Slice(TransportOffset + 4), TcpSequenceOf(firstMessage));

    /// <summary>Gets the TCP sequence number of the segment that carries message <paramref name="message"/>.</summary>
    /// <param name="message">The message's sequence number in its flow.</param>
    /// <returns>The TCP sequence number (wrapping, as TCP's does).</returns>
    public static uint TcpSequenceOf(ulong message) => unchecked((uint)(message * TsoSegmentPayload));

    /// <summary>Writes one message: its header, then the pattern slice its fields choose.</summary>
    /// <param name="message">The message bytes (at least <see cref="MessageHeaderLength"/>).</param>
    /// <param name="sender">The sending guest.</param>
    /// <param name="destination">The receiving guest.</param>
    /// <param name="flow">The flow.</param>
    /// <param name="sequence">The message's sequence number in the flow.</param>
    public static void WriteMessage(Span<byte> message, int sender, int destination, int flow, ulong sequence)
    {
        ulong mix = Mix(sender, destination, flow, sequence, message.Length);
        message[0] = (byte)sender;
        message[1] = (byte)destination;
        BinaryPrimitives.WriteUInt16LittleEndian(message.Slice(2), (ushort)flow);
        BinaryPrimitives.WriteUInt64LittleEndian(message.Slice(4), sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(message.Slice(12), (uint)mix);
        s_pattern.AsSpan(PatternOffset(mix), message.Length - MessageHeaderLength).CopyTo(message.Slice(MessageHeaderLength));
    }

    /// <summary>Reads and checks one message: the check word and the whole pattern.</summary>
    /// <param name="message">The message bytes.</param>
    /// <param name="sender">The sender it names.</param>
    /// <param name="destination">The destination it names.</param>
    /// <param name="flow">The flow it names.</param>
    /// <param name="sequence">Its sequence number.</param>
    /// <returns><see langword="true"/> when the check word and every pattern byte match.</returns>
    public static bool TryReadMessage(ReadOnlySpan<byte> message, out int sender, out int destination, out int flow, out ulong sequence)
    {
        sender = destination = flow = 0;
        sequence = 0;
        if (message.Length < MessageHeaderLength)
        {
            return false;
        }

        sender = message[0];
        destination = message[1];
        flow = BinaryPrimitives.ReadUInt16LittleEndian(message.Slice(2));
        sequence = BinaryPrimitives.ReadUInt64LittleEndian(message.Slice(4));
        ulong mix = Mix(sender, destination, flow, sequence, message.Length);
        return BinaryPrimitives.ReadUInt32LittleEndian(message.Slice(12)) == (uint)mix &&
            message.Slice(MessageHeaderLength).SequenceEqual(s_pattern.AsSpan(PatternOffset(mix), message.Length - MessageHeaderLength));
    }

    /// <summary>Gets the guest a frame's IPv4 source address names, or -1.</summary>
    /// <param name="frame">A frame with an IPv4 header.</param>
    /// <returns>The guest id, or -1 for an address outside 10.0.0.1–10.0.0.255.</returns>
    public static int SenderOf(ReadOnlySpan<byte> frame)
    {
        uint a = BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(EthernetLength + 12)) - FirstAddress;
        return a < 255 ? (int)a : -1;
    }

    private static ulong Mix(int sender, int destination, int flow, ulong sequence, int length)
    {
        // SplitMix64 finaliser over the fields: every field changes the check word and the pattern offset.
        ulong h = unchecked((sequence * 0x9E37_79B9_7F4A_7C15UL) ^ ((ulong)(byte)sender << 56) ^ ((ulong)(byte)destination << 48) ^ ((ulong)(ushort)flow << 32) ^ (uint)length);
        h = unchecked((h ^ (h >> 30)) * 0xBF58_476D_1CE4_E5B9UL);
        h = unchecked((h ^ (h >> 27)) * 0x94D0_49BB_1331_11EBUL);
        return h ^ (h >> 31);
    }

    private static int PatternOffset(ulong mix) => (int)(mix >> 56);

    private static byte[] CreatePattern()
    {
        var p = new byte[256 + TsoFrameSize];
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = unchecked((byte)((i * 157) + 59));
        }

        return p;
    }
}
