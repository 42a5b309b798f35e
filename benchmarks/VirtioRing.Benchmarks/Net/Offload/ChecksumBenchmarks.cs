using System;
using BenchmarkDotNet.Attributes;
using VirtioRing.Net.Offload;

namespace VirtioRing.Benchmarks.Net.Offload;

/// <summary>
/// Internet checksum of 64 B, 1500 B and 64 KiB, hot in cache: the vectorised <see cref="InternetChecksum.Sum(ReadOnlySpan{byte})"/>
/// against the scalar kernel (the baseline) and the portable <c>Vector&lt;T&gt;</c> kernel the netstandard2.0 build uses.
/// Throughput = Length / Mean. Each benchmark returns the sum, so the work cannot be elided.
/// </summary>
[MemoryDiagnoser]
public class ChecksumBenchmarks
{
    private byte[] _data = [];

    /// <summary>Gets or sets the buffer length in bytes.</summary>
    [Params(64, 1500, 65536)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Length];
        new Random(1).NextBytes(_data);
    }

    [Benchmark(Baseline = true)]
    public ushort Scalar() => ChecksumKernels.Fold(ChecksumKernels.SumScalar(_data));

    [Benchmark]
    public ushort VectorOfT() => ChecksumKernels.Fold(ChecksumKernels.SumVector(_data));

    [Benchmark]
    public ushort Sum() => InternetChecksum.Sum(_data);
}
