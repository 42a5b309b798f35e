using BenchmarkDotNet.Attributes;
using VirtioRing.Net.Multiqueue;

namespace VirtioRing.Benchmarks.Net.Multiqueue;

/// <summary>
/// The Toeplitz hash of an IPv4 TCP 4-tuple (12 bytes; target ≤ 10 ns) with the table-driven
/// <see cref="ToeplitzHash.Compute"/>, against the bit-by-bit definition as the same-run peer; and
/// classification + hash of whole frames. Per-frame figures (OperationsPerInvoke); each returns the XOR of the
/// hashes so the work cannot be elided. Inputs cycle over 64 different flows.
/// </summary>
[MemoryDiagnoser]
public class ToeplitzBenchmarks
{
    private const int Ops = BenchFrames.Count;
    private const NetHashTypes All = (NetHashTypes)0x1FF;
    private ToeplitzHash _toeplitz = null!;
    private NetHashCalculator _calculator = null!;
    private RssSteering _rss = null!;
    private byte[][] _tuples = null!;
    private byte[][] _v4 = null!;
    private byte[][] _v6 = null!;

    /// <summary>Builds the key tables and frames.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _toeplitz = new ToeplitzHash(BenchFrames.Key);
        _calculator = new NetHashCalculator(All, BenchFrames.Key);
        var table = new ushort[128];
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = (ushort)(i % 8);
        }

        _rss = new RssConfiguration(All, BenchFrames.Key, table, 0).Steering;
        _tuples = BenchFrames.Tuples();
        _v4 = BenchFrames.TcpV4Frames();
        _v6 = BenchFrames.TcpV6ExtensionFrames();
    }

    /// <summary>Bit-by-bit definition over a 12-byte tuple (peer).</summary>
    /// <returns>XOR of the hashes.</returns>
    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public uint BitwiseIPv4Tuple()
    {
        uint x = 0;
        byte[] key = BenchFrames.Key;
        foreach (byte[] t in _tuples)
        {
            x ^= ToeplitzHash.ComputeBitwise(key, t);
        }

        return x;
    }

    /// <summary>Table-driven hash of a 12-byte IPv4 TCP tuple.</summary>
    /// <returns>XOR of the hashes.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public uint ToeplitzIPv4Tuple()
    {
        uint x = 0;
        foreach (byte[] t in _tuples)
        {
            x ^= _toeplitz.Compute(t);
        }

        return x;
    }

    /// <summary>Parse a TCP/IPv4 frame, pick TCPv4, hash.</summary>
    /// <returns>XOR of the hashes.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public uint ClassifyAndHashTcpV4Frame()
    {
        uint x = 0;
        foreach (byte[] f in _v4)
        {
            x ^= _calculator.Calculate(f).Value;
        }

        return x;
    }

    /// <summary>Parse a TCP/IPv6 frame with two extension headers (home address), pick TCP_EX, hash 36 bytes.</summary>
    /// <returns>XOR of the hashes.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public uint ClassifyAndHashTcpV6ExFrame()
    {
        uint x = 0;
        foreach (byte[] f in _v6)
        {
            x ^= _calculator.Calculate(f).Value;
        }

        return x;
    }

    /// <summary>RSS: classify, hash, indirection table (the whole per-frame device step).</summary>
    /// <returns>Sum of the queues and hashes.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public uint RssSteerTcpV4Frame()
    {
        uint x = 0;
        foreach (byte[] f in _v4)
        {
            RssDecision d = _rss.Steer(f);
            x += d.ReceiveQueue ^ d.Hash.Value;
        }

        return x;
    }
}
