using System;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using VirtioRing.Net.Multiqueue;

namespace VirtioRing.Tests.Net.Control;

/// <summary>Shared setup: a handler with every control feature, small limits, and helpers to run commands.</summary>
internal static class ControlRig
{
    public const NetFeatures AllControl = NetFeatures.Version1 | NetFeatures.CtrlVq | NetFeatures.CtrlRx | NetFeatures.CtrlRxExtra |
        NetFeatures.CtrlVlan | NetFeatures.GuestAnnounce | NetFeatures.Mq | NetFeatures.CtrlMacAddr | NetFeatures.Rss |
        NetFeatures.HashReport | NetFeatures.CtrlGuestOffloads | NetFeatures.NotfCoal | NetFeatures.VqNotfCoal |
        NetFeatures.GuestCsum | NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.Mac;

    public static readonly MacAddress DeviceMac = MacAddress.Parse("52:54:00:12:34:56");

    public static NetControlLimits Limits(int maxPairs = 4, int macEntries = 4) => new()
    {
        Mac = DeviceMac,
        MaxQueuePairs = maxPairs,
        RssMaxKeySize = 40,
        RssMaxIndirectionTableLength = 128,
        SupportedHashTypes = NetHashTypes.IPv4 | NetHashTypes.TcpV4 | NetHashTypes.UdpV4 | NetHashTypes.IPv6 | NetHashTypes.TcpV6,
        MaxMacTableEntries = macEntries,
    };

    public static NetControlHandler Handler(NetFeatures features = AllControl, int maxPairs = 4, int macEntries = 4) =>
        new(features, Limits(maxPairs, macEntries));

    /// <summary>Runs a command from bytes; returns the result and the response buffer.</summary>
    public static ControlResult Run(NetControlHandler handler, ReadOnlySpan<byte> command, out byte[] response, int responseLength = 9)
    {
        response = new byte[responseLength];
        response.AsSpan().Fill(0xEE);
        return handler.Handle(command, response);
    }

    /// <summary>Encodes with <paramref name="write"/> into a fresh buffer and runs it; asserts nothing.</summary>
    public static ControlResult Run(NetControlHandler handler, Func<byte[], int> write, int responseLength = 9)
    {
        var buffer = new byte[4096];
        int n = write(buffer);
        return Run(handler, buffer.AsSpan(0, n), out _, responseLength);
    }

    public static byte[] Bytes(params int[] values)
    {
        var b = new byte[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            b[i] = checked((byte)values[i]);
        }

        return b;
    }

    public static byte[] Encode(Func<byte[], int> write)
    {
        var buffer = new byte[4096];
        int n = write(buffer);
        return buffer.AsSpan(0, n).ToArray();
    }
}
