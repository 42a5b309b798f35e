using System;
using System.Collections.Generic;
using System.Net;

namespace VirtioRing.Tests.Net.Multiqueue;

/// <summary>Builds Ethernet frames for the hashing and steering tests (checksums are not needed and left 0).</summary>
internal static class TestFrames
{
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte Icmp6 = 58;

    public static readonly byte[] DestinationMac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    public static readonly byte[] SourceMac = [0x52, 0x54, 0x00, 0xAB, 0xCD, 0xEF];

    /// <summary>The Microsoft RSS verification key (40 bytes).</summary>
    public static readonly byte[] MicrosoftKey = Convert.FromHexString("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa");

    public static byte[] IPv4(string source, string destination, byte protocol, ushort sourcePort = 0, ushort destinationPort = 0,
        ushort? vlan = null, ushort flagsFragment = 0x4000, int optionsLength = 0, int payload = 32, byte[]? mac = null) =>
        IPv4(Addr(source), Addr(destination), protocol, sourcePort, destinationPort, vlan, flagsFragment, optionsLength, payload, mac);

    public static byte[] IPv4(byte[] source, byte[] destination, byte protocol, ushort sourcePort = 0, ushort destinationPort = 0,
        ushort? vlan = null, ushort flagsFragment = 0x4000, int optionsLength = 0, int payload = 32, byte[]? mac = null)
    {
        var l4 = L4(protocol, sourcePort, destinationPort, payload);
        int ihl = 20 + optionsLength;
        var ip = new byte[ihl + l4.Length];
        ip[0] = (byte)(0x40 | (ihl / 4));
        Be16(ip, 2, (ushort)ip.Length);
        Be16(ip, 6, flagsFragment);
        ip[8] = 64;
        ip[9] = protocol;
        source.CopyTo(ip, 12);
        destination.CopyTo(ip, 16);
        for (int i = 20; i < ihl; i++)
        {
            ip[i] = 1;   // NOP options
        }

        l4.CopyTo(ip, ihl);
        return Ethernet(0x0800, ip, vlan, mac);
    }

    /// <summary>An IPv6 frame; <paramref name="extensions"/> are (next-header-of-this-header type, body) built by the helpers below.</summary>
    public static byte[] IPv6(string source, string destination, byte protocol, ushort sourcePort = 0, ushort destinationPort = 0,
        IReadOnlyList<(byte Type, byte[] Header)>? extensions = null, ushort? vlan = null, int payload = 32)
    {
        var l4 = L4(protocol, sourcePort, destinationPort, payload);
        var chain = new List<byte>();
        extensions ??= [];
        for (int i = 0; i < extensions.Count; i++)
        {
            byte[] h = (byte[])extensions[i].Header.Clone();
            h[0] = i + 1 < extensions.Count ? extensions[i + 1].Type : protocol;
            chain.AddRange(h);
        }

        chain.AddRange(l4);
        var ip = new byte[40 + chain.Count];
        ip[0] = 0x60;
        Be16(ip, 4, (ushort)chain.Count);
        ip[6] = extensions.Count > 0 ? extensions[0].Type : protocol;
        ip[7] = 64;
        Addr(source).CopyTo(ip, 8);
        Addr(destination).CopyTo(ip, 24);
        chain.CopyTo(ip, 40);
        return Ethernet(0x86DD, ip, vlan, null);
    }

    public static (byte, byte[]) HopByHop() => (0, [0, 0, 1, 4, 0, 0, 0, 0]);   // PadN

    public static (byte, byte[]) DestinationOptionsWithHomeAddress(string home)
    {
        // Pad1 x2, PadN(2), HAO(type 0xC9, len 16) = 2 + 2 + 2 + 18 = 24 bytes: hdr ext len 2.
        var h = new byte[24];
        h[1] = 2;
        h[2] = 0;
        h[3] = 0;
        h[4] = 1;
        h[5] = 0;
        h[6] = 0xC9;
        h[7] = 16;
        Addr(home).CopyTo(h, 8);
        return (60, h);
    }

    public static (byte, byte[]) RoutingType2(string address)
    {
        var h = new byte[24];
        h[1] = 2;    // hdr ext len
        h[2] = 2;    // routing type 2
        h[3] = 1;    // segments left
        Addr(address).CopyTo(h, 8);
        return (43, h);
    }

    public static (byte, byte[]) Fragment(ushort offsetFlags) => (44, [0, 0, (byte)(offsetFlags >> 8), (byte)offsetFlags, 0, 0, 0, 1]);

    public static byte[] Ethernet(ushort etherType, byte[] payload, ushort? vlan = null, byte[]? destinationMac = null)
    {
        int header = vlan is null ? 14 : 18;
        var frame = new byte[header + payload.Length];
        (destinationMac ?? DestinationMac).CopyTo(frame, 0);
        SourceMac.CopyTo(frame, 6);
        if (vlan is ushort tag)
        {
            Be16(frame, 12, 0x8100);
            Be16(frame, 14, tag);
            Be16(frame, 16, etherType);
        }
        else
        {
            Be16(frame, 12, etherType);
        }

        payload.CopyTo(frame, header);
        return frame;
    }

    public static byte[] Addr(string text) => IPAddress.Parse(text).GetAddressBytes();

    public static byte[] Port(ushort port) => [(byte)(port >> 8), (byte)port];

    public static byte[] Concat(params byte[][] parts)
    {
        var list = new List<byte>();
        foreach (var p in parts)
        {
            list.AddRange(p);
        }

        return list.ToArray();
    }

    private static byte[] L4(byte protocol, ushort sourcePort, ushort destinationPort, int payload)
    {
        int header = protocol switch { Tcp => 20, Udp => 8, _ => 8 };
        var l4 = new byte[header + payload];
        Be16(l4, 0, sourcePort);
        Be16(l4, 2, destinationPort);
        if (protocol == Tcp)
        {
            l4[12] = 0x50;
        }
        else if (protocol == Udp)
        {
            Be16(l4, 4, (ushort)l4.Length);
        }

        return l4;
    }

    private static void Be16(byte[] b, int offset, ushort value)
    {
        b[offset] = (byte)(value >> 8);
        b[offset + 1] = (byte)value;
    }
}
