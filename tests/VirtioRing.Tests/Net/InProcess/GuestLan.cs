using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using VirtioRing.Net;
using VirtioRing.Net.Engine;
using VirtioRing.Net.InProcess;
using VirtioRing.Net.Switching;

namespace VirtioRing.Tests.Net.InProcess;

/// <summary>A frame a guest's driver received, with the pair it came in on.</summary>
internal sealed record ReceivedFrame(int Pair, VirtioNetHeader Header, byte[] Bytes);

/// <summary>
/// A switch with real in-process guests on it (each its own guest memory, rings, <c>NetDriver</c> and <c>NetDevice</c>),
/// plus the pumping and draining the end-to-end tests share. In <see cref="NetWorkerMode.Manual"/> nothing moves until
/// <see cref="PollAll"/> or <see cref="PollPair"/> is called, so a test decides exactly when each frame is switched.
/// </summary>
internal sealed class GuestLan : IDisposable
{
    private readonly byte[] _receive = new byte[70_000];

    public GuestLan(int guests, Func<int, InProcessGuestOptions> options, NetSwitchOptions? switchOptions = null)
    {
        Switch = new NetSwitch(switchOptions ?? new NetSwitchOptions { GuestPortQueues = 4 });
        Ports = new NetSwitchPort[guests];
        Guests = new InProcessGuest[guests];
        try
        {
            for (int i = 0; i < guests; i++)
            {
                Ports[i] = Switch.AddGuestPort("g" + i);
                Guests[i] = InProcessGuest.Create(Ports[i], options(i));

                // A driver starts with one active pair (§5.1.6.5.6); use them all, as a multiqueue guest does.
                if (Guests[i].Driver.QueuePairs > 1
                    && Guests[i].Driver.SetQueuePairs(Guests[i].Driver.QueuePairs) != VirtioRing.Net.Control.ControlAck.Ok)
                {
                    throw new InvalidOperationException("VQ_PAIRS_SET refused");
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public NetSwitch Switch { get; }

    public NetSwitchPort[] Ports { get; }

    public InProcessGuest[] Guests { get; }

    public InProcessGuest this[int index] => Guests[index];

    /// <summary>Guest <paramref name="index"/>'s own MAC: 52:54:00:00:01:(index+1).</summary>
    public static MacAddress HomeMac(int index) => new(0x5254_0000_0100UL + (ulong)index + 1);

    public static InProcessGuestOptions Options(int index, bool packed, int pairs, int queueSize = 256, NetWorkerMode mode = NetWorkerMode.Manual) => new()
    {
        Mac = HomeMac(index),
        Packed = packed,
        QueuePairs = pairs,
        QueueSize = queueSize,
        WorkerMode = mode,
        Name = "g" + index,
    };

    /// <summary>Runs one pair's device rounds until it has nothing left to do (a held chain counts as nothing).</summary>
    public int PollPair(int guest, int pair)
    {
        int total = 0;
        NetQueuePair p = Guests[guest].Device.GetPair(pair);
        for (int round = 0; round < 10_000; round++)
        {
            int n = p.Poll(64);
            if (n == 0)
            {
                return total;
            }

            total += n;
        }

        throw new InvalidOperationException("A pair kept finding work for 10 000 rounds.");
    }

    /// <summary>Polls every pair of every guest until a whole sweep moves nothing.</summary>
    public int PollAll()
    {
        int total = 0;
        for (int sweep = 0; sweep < 10_000; sweep++)
        {
            int moved = 0;
            for (int g = 0; g < Guests.Length; g++)
            {
                for (int p = 0; p < Guests[g].Device.MaxQueuePairs; p++)
                {
                    moved += PollPair(g, p);
                }
            }

            if (moved == 0)
            {
                return total;
            }

            total += moved;
        }

        throw new InvalidOperationException("The LAN kept finding work for 10 000 sweeps.");
    }

    /// <summary>Receives every waiting frame of every bound pair of guest <paramref name="guest"/>.</summary>
    public List<ReceivedFrame> Drain(int guest, List<ReceivedFrame>? into = null)
    {
        into ??= [];
        InProcessGuest g = Guests[guest];
        for (int p = 0; p < g.Driver.QueuePairs; p++)
        {
            while (true)
            {
                var status = g.Driver.Receive(p, _receive, out VirtioNetHeader header, out int length);
                if (status == VirtioRing.Net.Driver.NetDriverStatus.Empty)
                {
                    break;
                }

                if (status != VirtioRing.Net.Driver.NetDriverStatus.Ok)
                {
                    throw new InvalidOperationException($"guest {guest} pair {p}: receive {status} ({g.Driver.GetFault(2 * p)})");
                }

                into.Add(new ReceivedFrame(p, header, _receive.AsSpan(0, length).ToArray()));
            }
        }

        return into;
    }

    public void Dispose()
    {
        foreach (InProcessGuest? g in Guests)
        {
            g?.Dispose();
        }
    }
}

/// <summary>Test frames: a sequence number and a payload derived from it, so any copy can be checked on its own.</summary>
internal static class TestFrames
{
    public const ushort EtherType = 0x88B5;     // IEEE 802 local experimental
    public const uint Magic = 0x5652_5450;      // "VRTP"

    /// <summary>Builds dst, src, optional 802.1Q tag, EtherType, magic, sequence, then bytes derived from the sequence.</summary>
    public static byte[] Build(MacAddress destination, MacAddress source, int length, int sequence, int vlan = -1, ushort etherType = EtherType)
    {
        var f = new byte[length];
        destination.WriteTo(f);
        source.WriteTo(f.AsSpan(6));
        int o = 12;
        if (vlan >= 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), (ushort)vlan);
            o = 16;
        }

        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(o), etherType);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(o + 2), Magic);
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(o + 6), sequence);
        uint x = (uint)sequence * 2654435761u + 12345;
        for (int i = o + 10; i < f.Length; i++)
        {
            x = (x * 1103515245) + 12345;
            f[i] = (byte)(x >> 16);
        }

        return f;
    }

    /// <summary>Reads a test frame's sequence number, or -1 when it is not one.</summary>
    public static int SequenceOf(ReadOnlySpan<byte> frame)
    {
        int o = frame.Length >= 16 && BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(12)) == 0x8100 ? 16 : 12;
        if (frame.Length < o + 10 || BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(o + 2)) != Magic)
        {
            return -1;
        }

        return BinaryPrimitives.ReadInt32BigEndian(frame.Slice(o + 6));
    }
}

/// <summary>
/// IPv4/UDP test frames that name their flow: sender guest, flow number (the UDP ports, so the flow hash spreads flows
/// over queue pairs) and a per-flow sequence number; length and payload follow from those, so a copy can be checked alone.
/// </summary>
internal static class FlowFrames
{
    public const uint Magic = 0x464C_4F57;      // "FLOW"
    private const int PayloadOffset = 14 + 20 + 8;

    public static int LengthOf(int sender, int flow, int sequence) => 60 + (int)((((uint)sequence * 37u) + ((uint)flow * 11u) + ((uint)sender * 5u)) % 1455u);

    public static byte[] Build(MacAddress destination, MacAddress source, int sender, int receiver, int flow, int sequence)
    {
        int length = LengthOf(sender, flow, sequence);
        var f = new byte[length];
        destination.WriteTo(f);
        source.WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(length - 14));
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), (ushort)sequence);
        ip[8] = 64;
        ip[9] = 17;
        ip[12] = 10;
        ip[15] = (byte)(sender + 1);
        ip[16] = 10;
        ip[19] = (byte)(receiver + 1);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(10), Checksums.Compute(ip));
        Span<byte> udp = f.AsSpan(34, 8);
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)(1000 + flow));
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(2), (ushort)(2000 + flow));
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(4), (ushort)(length - 34));
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(PayloadOffset), Magic);
        f[PayloadOffset + 4] = (byte)sender;
        f[PayloadOffset + 5] = (byte)flow;
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(PayloadOffset + 6), sequence);
        uint x = ((uint)sequence * 2654435761u) ^ ((uint)flow << 8) ^ (uint)sender;
        for (int i = PayloadOffset + 10; i < f.Length; i++)
        {
            x = (x * 1103515245) + 12345;
            f[i] = (byte)(x >> 16);
        }

        return f;
    }

    /// <summary>Reads sender, flow and sequence from a flow frame (false when it is not one).</summary>
    public static bool TryParse(ReadOnlySpan<byte> frame, out int sender, out int flow, out int sequence)
    {
        sender = flow = sequence = -1;
        if (frame.Length < PayloadOffset + 10 || BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(PayloadOffset)) != Magic)
        {
            return false;
        }

        sender = frame[PayloadOffset + 4];
        flow = frame[PayloadOffset + 5];
        sequence = BinaryPrimitives.ReadInt32BigEndian(frame.Slice(PayloadOffset + 6));
        return true;
    }
}

/// <summary>An independent RFC 1071 Internet checksum, to verify what the library computed.</summary>
internal static class Checksums
{
    public static uint Sum(ReadOnlySpan<byte> data, uint sum = 0)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += (uint)((data[i] << 8) | data[i + 1]);
        }

        if (i < data.Length)
        {
            sum += (uint)(data[i] << 8);
        }

        return sum;
    }

    public static ushort Fold(uint sum)
    {
        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)sum;
    }

    /// <summary>The checksum to store in a field that was zero while summing.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => (ushort)~Fold(Sum(data));

    /// <summary>Whether data including its checksum field sums to all ones.</summary>
    public static bool Verifies(ReadOnlySpan<byte> data, uint pseudo = 0) => Fold(Sum(data, pseudo)) == 0xFFFF;
}
