using System.Diagnostics;

namespace VirtioRing.Net.Multiqueue;

/// <summary>What <see cref="FrameParser"/> found in a frame: offsets into it, all already bounds-checked.</summary>
[DebuggerDisplay("IPv{IpVersion} L4 {L4Protocol} ext {HasExtensionHeaders}")]
internal struct ParsedFrame
{
    /// <summary>IP protocol number of TCP.</summary>
    public const byte Tcp = 6;

    /// <summary>IP protocol number of UDP.</summary>
    public const byte Udp = 17;

    /// <summary>4 or 6; 0 when the frame is not IP (then nothing else is set).</summary>
    public byte IpVersion;

    /// <summary><see cref="Tcp"/> or <see cref="Udp"/> when a whole header of that protocol follows an unfragmented IP header; else 0.</summary>
    public byte L4Protocol;

    /// <summary>Whether the IPv6 packet carries an extension header, even a malformed one (§5.1.6.4.3.4 applies).</summary>
    public bool HasExtensionHeaders;

    /// <summary>Offset of the source address (4 or 16 bytes).</summary>
    public int SourceOffset;

    /// <summary>Offset of the destination address (4 or 16 bytes).</summary>
    public int DestinationOffset;

    /// <summary>Offset of the IPv6 home address (destination options, home-address option), or −1.</summary>
    public int HomeAddressOffset;

    /// <summary>Offset of the address in an IPv6 type-2 routing header, or −1.</summary>
    public int RoutingAddressOffset;

    /// <summary>Offset of the L4 header: source port, then destination port (valid when <see cref="L4Protocol"/> ≠ 0).</summary>
    public int L4Offset;

    /// <summary>Gets the length of one address: 4 for IPv4, 16 for IPv6.</summary>
    public readonly int AddressLength => IpVersion == 4 ? 4 : 16;
}
