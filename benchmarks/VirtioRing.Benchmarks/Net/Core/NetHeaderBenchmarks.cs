using System;
using BenchmarkDotNet.Attributes;
using VirtioRing.Net;

namespace VirtioRing.Benchmarks.Net.Core;

/// <summary>
/// <c>virtio_net_hdr</c> decode + encode for each layout (10, 10 big-endian, 12, 20 bytes), and
/// the transmit validation of a TSOv4 header. Per header (OperationsPerInvoke). The peer is a plain
/// 20-byte copy, the least a device does with a header.
/// </summary>
[MemoryDiagnoser]
public class NetHeaderBenchmarks
{
    private const int Ops = 1024;
    private const NetFeatures Negotiated = NetFeatures.Version1 | NetFeatures.Csum | NetFeatures.HostTso4 | NetFeatures.HostTso6 | NetFeatures.HostEcn;
    private readonly byte[] _source = new byte[Ops * 20];
    private readonly byte[] _destination = new byte[Ops * 20];
    private readonly VirtioNetHeader[] _headers = new VirtioNetHeader[Ops];
    private NetHeaderLayout _layout;

    /// <summary>The header layout: 10, 10 big-endian (legacy guest-endian), 12 or 20 bytes.</summary>
    [Params("10", "10BE", "12", "20")]
    public string Layout { get; set; } = "12";

    /// <summary>Fills the headers.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _layout = Layout switch
        {
            "10" => NetHeaderLayout.Legacy,
            "10BE" => NetHeaderLayout.LegacyFor(false, true),
            "12" => NetHeaderLayout.Modern,
            _ => NetHeaderLayout.ModernHashReport,
        };
        var random = new Random(42);
        for (int i = 0; i < Ops; i++)
        {
            var h = new VirtioNetHeader
            {
                Flags = NetHeaderFlags.NeedsChecksum,
                GsoType = (i & 1) == 0 ? NetGsoType.TcpV4 : NetGsoType.TcpV6 | NetGsoType.Ecn,
                HeaderLength = 54,
                GsoSize = (ushort)random.Next(500, 1449),
                ChecksumStart = 34,
                ChecksumOffset = 16,
                NumBuffers = 1,
                HashValue = (uint)random.Next(),
            };
            h.Write(_source.AsSpan(i * 20), _layout);
            _headers[i] = h;
        }
    }

    /// <summary>Peer: copy 20 bytes per header.</summary>
    /// <returns>Proof of work.</returns>
    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public int Copy20()
    {
        int sum = 0;
        for (int i = 0; i < Ops; i++)
        {
            _source.AsSpan(i * 20, 20).CopyTo(_destination.AsSpan(i * 20));
            sum += _destination[i * 20];
        }

        return sum;
    }

    /// <summary>Decode a header, encode it back.</summary>
    /// <returns>Proof of work.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int DecodeEncode()
    {
        int sum = 0;
        NetHeaderLayout layout = _layout;
        for (int i = 0; i < Ops; i++)
        {
            VirtioNetHeader h = VirtioNetHeader.Read(_source.AsSpan(i * 20, 20), layout);
            sum += h.Write(_destination.AsSpan(i * 20, 20), layout) + h.GsoSize;
        }

        return sum;
    }

    /// <summary>Validate a decoded transmit header against the negotiated features and the frame length.</summary>
    /// <returns>Proof of work (count of accepted headers).</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int ValidateTransmit()
    {
        int ok = 0;
        for (int i = 0; i < Ops; i++)
        {
            if (_headers[i].ValidateTransmit(Negotiated, 9000) == NetHeaderError.None)
            {
                ok++;
            }
        }

        return ok;
    }
}
