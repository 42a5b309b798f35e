using System;
using System.Buffers.Binary;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// Finds what RSS hashes in an Ethernet frame (virtio 1.2 §5.1.6.4.3.2–§5.1.6.4.3.4): the IP addresses, the
/// TCP/UDP ports, and for IPv6 the home address and type-2 routing address of the extension headers.
/// </summary>
/// <remarks>
/// The frame comes from a guest or the wire and is hostile: every read is checked against the frame (and the
/// IP length fields, whichever is shorter) before it happens, offsets only grow, and the extension-header
/// walk stops after <see cref="MaxExtensionHeaders"/> headers. A frame this parser cannot follow is reported
/// as far as it could be followed (addresses without ports) or as not IP; it never throws.
/// </remarks>
internal static class FrameParser
{
    /// <summary>IPv6 extension headers walked before giving up on finding the upper layer (RFC 8200 §4.1 orders at most 7).</summary>
    public const int MaxExtensionHeaders = 10;

    private const ushort EtherTypeIPv4 = 0x0800;
    private const ushort EtherTypeIPv6 = 0x86DD;
    private const ushort EtherTypeVlan = 0x8100;   // IEEE 802.1Q C-tag

    private const byte HopByHop = 0;
    private const byte Routing = 43;
    private const byte Fragment = 44;
    private const byte AuthenticationHeader = 51;
    private const byte DestinationOptions = 60;

    private const byte OptionPad1 = 0;
    private const byte OptionHomeAddress = 0xC9;   // RFC 6275 §6.3
    private const int AddressLength6 = 16;

    /// <summary>Parses <paramref name="frame"/> (an Ethernet frame without the virtio-net header).</summary>
    /// <param name="frame">The frame.</param>
    /// <param name="parsed">The result; <see cref="ParsedFrame.IpVersion"/> is 0 when the frame is not IPv4 or IPv6.</param>
    /// <returns>Whether the frame carries a complete IPv4 or IPv6 header.</returns>
    public static bool TryParse(ReadOnlySpan<byte> frame, out ParsedFrame parsed)
    {
        parsed = default;
        parsed.HomeAddressOffset = -1;
        parsed.RoutingAddressOffset = -1;
        if (frame.Length < 14)
        {
            return false;
        }

        // Ethernet II: destination MAC, source MAC, EtherType; at most one 802.1Q tag before the real type.
        int offset = 14;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(12));
        if (etherType == EtherTypeVlan)
        {
            if (frame.Length < 18)
            {
                return false;
            }

            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(16));
            offset = 18;
        }

        return etherType switch
        {
            EtherTypeIPv4 => TryParseIPv4(frame, offset, ref parsed),
            EtherTypeIPv6 => TryParseIPv6(frame, offset, ref parsed),
            _ => false,
        };
    }

    private static bool TryParseIPv4(ReadOnlySpan<byte> frame, int offset, ref ParsedFrame parsed)
    {
        // RFC 791 §3.1: version/IHL, TOS, total length, id, flags/fragment offset, TTL, protocol, checksum, addresses.
        int available = frame.Length - offset;
        if (available < 20)
        {
            return false;
        }

        byte versionIhl = frame[offset];
        int headerLength = (versionIhl & 0x0F) * 4;
        if (versionIhl >> 4 != 4 || headerLength < 20 || headerLength > available)
        {
            return false;
        }

        parsed.IpVersion = 4;
        parsed.SourceOffset = offset + 12;
        parsed.DestinationOffset = offset + 16;

        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(offset + 2));
        ushort flagsFragment = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(offset + 6));

        // A fragment (more-fragments set or a non-zero offset) is hashed on its addresses only: the ports are
        // in the first fragment only, and all fragments of a datagram must land on one queue.
        if ((flagsFragment & 0x3FFF) != 0 || totalLength < headerLength)
        {
            return true;
        }

        // The packet ends at the total length, or earlier if the frame is truncated; Ethernet padding is not payload.
        int end = offset + Math.Min(totalLength, available);
        SetL4(frame[offset + 9], offset + headerLength, end, ref parsed);
        return true;
    }

    private static bool TryParseIPv6(ReadOnlySpan<byte> frame, int offset, ref ParsedFrame parsed)
    {
        // RFC 8200 §3: version/class/flow (4), payload length (2), next header, hop limit, source, destination.
        int available = frame.Length - offset;
        if (available < 40 || frame[offset] >> 4 != 6)
        {
            return false;
        }

        parsed.IpVersion = 6;
        parsed.SourceOffset = offset + 8;
        parsed.DestinationOffset = offset + 24;

        // Payload length 0 is a jumbogram (RFC 2675): the frame bounds the packet.
        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(offset + 4));
        int end = payloadLength == 0 ? frame.Length : offset + 40 + Math.Min(payloadLength, available - 40);
        byte next = frame[offset + 6];
        int position = offset + 40;

        for (int walked = 0; walked < MaxExtensionHeaders; walked++)
        {
            int length;
            switch (next)
            {
                case HopByHop:
                case Routing:
                case DestinationOptions:
                    // Next header, header extension length in 8-octet units beyond the first 8 (RFC 8200 §4.3–4.6).
                    parsed.HasExtensionHeaders = true;
                    if (end - position < 8)
                    {
                        return true;
                    }

                    length = (frame[position + 1] + 1) * 8;
                    if (end - position < length)
                    {
                        return true;
                    }

                    if (next == DestinationOptions)
                    {
                        FindHomeAddress(frame, position, length, ref parsed);
                    }
                    else if (next == Routing)
                    {
                        FindRoutingType2Address(frame, position, ref parsed);
                    }

                    break;

                case Fragment:
                    // RFC 8200 §4.5: next header, reserved, offset (13 bits) / res / M, identification. A real
                    // fragment (offset or M set) is hashed on addresses only; an atomic fragment is not a fragment.
                    parsed.HasExtensionHeaders = true;
                    if (end - position < 8)
                    {
                        return true;
                    }

                    if ((BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(position + 2)) & 0xFFF9) != 0)
                    {
                        return true;
                    }

                    length = 8;
                    break;

                case AuthenticationHeader:
                    // RFC 4302 §2.2: payload length in 4-octet units, minus 2.
                    parsed.HasExtensionHeaders = true;
                    if (end - position < 8)
                    {
                        return true;
                    }

                    length = (frame[position + 1] + 2) * 4;
                    if (end - position < length)
                    {
                        return true;
                    }

                    break;

                default:
                    // TCP, UDP, or a header whose payload cannot be followed (ESP, ICMPv6, no next header).
                    SetL4(next, position, end, ref parsed);
                    return true;
            }

            next = frame[position];
            position += length;
        }

        // Too many extension headers: addresses only.
        return true;
    }

    private static void SetL4(byte protocol, int position, int end, ref ParsedFrame parsed)
    {
        // "The packet has a TCP/UDP header": the whole fixed header is present (TCP RFC 9293 §3.1: 20 bytes;
        // UDP RFC 768: 8 bytes), not just the ports.
        int needed = protocol switch
        {
            ParsedFrame.Tcp => 20,
            ParsedFrame.Udp => 8,
            _ => int.MaxValue,
        };

        if (end - position >= needed)
        {
            parsed.L4Protocol = protocol;
            parsed.L4Offset = position;
        }
    }

    // virtio 1.2 §5.1.6.4.3.4: "Home address from the home address option in the IPv6 destination options
    // header" (RFC 6275 §6.3: option type 0xC9, length 16). The first one found is used.
    private static void FindHomeAddress(ReadOnlySpan<byte> frame, int header, int length, ref ParsedFrame parsed)
    {
        if (parsed.HomeAddressOffset >= 0)
        {
            return;
        }

        int end = header + length;
        int option = header + 2;
        while (option < end)
        {
            byte type = frame[option];
            if (type == OptionPad1)
            {
                option++;
                continue;
            }

            if (end - option < 2)
            {
                return;
            }

            int dataLength = frame[option + 1];
            if (end - option - 2 < dataLength)
            {
                return;
            }

            if (type == OptionHomeAddress && dataLength == AddressLength6)
            {
                parsed.HomeAddressOffset = option + 2;
                return;
            }

            option += 2 + dataLength;
        }
    }

    // virtio 1.2 §5.1.6.4.3.4: "IPv6 address that is contained in the Routing-Header-Type-2" (RFC 6275 §6.4:
    // header extension length 2, routing type 2, segments left 1, 4 reserved bytes, then the home address).
    private static void FindRoutingType2Address(ReadOnlySpan<byte> frame, int header, ref ParsedFrame parsed)
    {
        if (parsed.RoutingAddressOffset < 0 && frame[header + 1] == 2 && frame[header + 2] == 2 && frame[header + 3] == 1)
        {
            // Length (2 + 1) * 8 = 24 bytes was checked by the caller: the address at +8 is inside.
            parsed.RoutingAddressOffset = header + 8;
        }
    }
}
