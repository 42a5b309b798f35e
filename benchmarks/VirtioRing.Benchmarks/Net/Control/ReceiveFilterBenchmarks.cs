using System;
using BenchmarkDotNet.Attributes;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using VirtioRing.Net.Multiqueue;

namespace VirtioRing.Benchmarks.Net.Control;

/// <summary>
/// The control-queue side of the receive path: <see cref="NetControlState.Accept"/> over a batch of
/// <see cref="Frames"/> frames (unicast listed/unlisted, multicast, broadcast, VLAN-tagged) with MAC
/// tables of <see cref="TableEntries"/> addresses; plus the allocation-free control paths (encoding a
/// command, and a <c>NOTF_COAL_VQ_GET</c> through the handler). Each returns proof of work.
/// </summary>
[MemoryDiagnoser]
public class ReceiveFilterBenchmarks
{
    /// <summary>Frames per filter invocation.</summary>
    public const int Frames = 1024;

    private readonly byte[] _frames = new byte[Frames * 64];
    private readonly byte[] _command = new byte[512];
    private readonly byte[] _response = new byte[9];
    private readonly byte[] _rss = new byte[512];
    private readonly ushort[] _table = new ushort[128];
    private readonly byte[] _key = new byte[40];
    private NetControlState _state = null!;
    private NetControlHandler _handler = null!;
    private int _getLength;

    /// <summary>Gets or sets the addresses in each MAC table (4: linear scan; 64: binary search).</summary>
    [Params(4, 64)]
    public int TableEntries { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        const NetFeatures features = NetFeatures.CtrlVq | NetFeatures.CtrlRx | NetFeatures.CtrlVlan | NetFeatures.Mq | NetFeatures.VqNotfCoal;
        _handler = new NetControlHandler(features, new NetControlLimits
        {
            Mac = new MacAddress(0x5254_0012_3456UL),
            MaxQueuePairs = 4,
            MaxMacTableEntries = TableEntries,
        });
        var buffer = new byte[4096];
        var unicast = new MacAddress[TableEntries];
        var multicast = new MacAddress[TableEntries];
        for (int i = 0; i < TableEntries; i++)
        {
            unicast[i] = new MacAddress(0x0200_0000_0000UL + (ulong)(i * 7919));
            multicast[i] = new MacAddress(0x0100_5E00_0000UL + (ulong)i);
        }

        Run(buffer, NetControlEncoder.WriteRxMode(buffer, NetRxMode.Promiscuous, false));
        Run(buffer, NetControlEncoder.WriteMacTable(buffer, unicast, multicast));
        Run(buffer, NetControlEncoder.WriteVlan(buffer, true, 10));
        _state = _handler.State;

        var random = new Random(42);
        for (int i = 0; i < Frames; i++)
        {
            Span<byte> f = _frames.AsSpan(i * 64, 64);
            MacAddress destination = (i % 6) switch
            {
                0 => unicast[random.Next(TableEntries)],
                1 => new MacAddress(0x0200_0000_0000UL + (ulong)random.Next(1 << 30)),
                2 => multicast[random.Next(TableEntries)],
                3 => MacAddress.Broadcast,
                4 => new MacAddress(0x5254_0012_3456UL),
                _ => new MacAddress(0x0100_5E7F_0000UL + (ulong)random.Next(1 << 16)),
            };
            destination.WriteTo(f);
            if (i % 8 == 7)
            {
                f[12] = 0x81;
                f[15] = (byte)(i % 16 == 15 ? 10 : 11);
            }
            else
            {
                f[12] = 0x08;
            }
        }

        _getLength = NetControlEncoder.WriteQueueCoalescingGet(_command, 1);
    }

    /// <summary>Filters <see cref="Frames"/> frames; returns how many were accepted.</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public int Accept()
    {
        NetControlState state = _state;
        byte[] frames = _frames;
        int accepted = 0;
        for (int i = 0; i < Frames; i++)
        {
            if (state.Accept(frames.AsSpan(i * 64, 64)) == ReceiveVerdict.Accept)
            {
                accepted++;
            }
        }

        return accepted;
    }

    /// <summary>Encodes an RSS_CONFIG with a 128-entry table and a 40-byte key; returns its length.</summary>
    [Benchmark]
    public int EncodeRssConfig() =>
        NetControlEncoder.WriteRssConfig(_rss, NetHashTypes.TcpV4 | NetHashTypes.IPv4, _table, 0, 4, _key);

    /// <summary>Handles a NOTF_COAL_VQ_GET (decode, validate, answer; no state change); returns the bytes written.</summary>
    [Benchmark]
    public uint HandleCoalescingGet() => _handler.Handle(_command.AsSpan(0, _getLength), _response).WrittenLength;

    private void Run(byte[] buffer, int length)
    {
        if (_handler.Handle(buffer.AsSpan(0, length), _response).Ack != ControlAck.Ok)
        {
            throw new InvalidOperationException("setup command refused");
        }
    }
}
