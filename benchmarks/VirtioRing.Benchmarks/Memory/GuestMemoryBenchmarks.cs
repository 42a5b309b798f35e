using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using VirtioRing.Memory;

namespace VirtioRing.Benchmarks.Memory;

/// <summary>
/// <see cref="GuestMemory.TryGetSpan"/> over tables of 1, 2 and 16 regions: a range in the region
/// that answered last (the cached hint), ranges alternating between the first and the last region
/// (the hint misses each time and the binary search runs; with one region it is the same region),
/// and an address in a hole between regions (the search fails). Each benchmark translates
/// <see cref="Operations"/> ranges and returns the bytes translated, so the work cannot be elided.
/// </summary>
[MemoryDiagnoser]
public class GuestMemoryBenchmarks
{
    /// <summary>Translations per benchmark invocation.</summary>
    public const int Operations = 1024;

    private const ulong RegionSize = 64 * 1024;
    private const ulong RegionStride = 1024 * 1024;   // regions are 1 MiB apart: holes between them
    private const int Length = 1500;                  // a frame-sized buffer

    private GuestMemory _memory = null!;
    private GuestAddress _first;
    private GuestAddress _last;
    private GuestAddress _hole;

    /// <summary>Gets or sets the number of regions in the table.</summary>
    [Params(1, 2, 16)]
    public int Regions { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var regions = new List<GuestRegion>(Regions);
        for (int i = 0; i < Regions; i++)
        {
            regions.Add(GuestRegion.Allocate(new GuestAddress((ulong)i * RegionStride), RegionSize));
        }

        _memory = new GuestMemory(regions);
        _first = new GuestAddress(0x100);
        _last = new GuestAddress(((ulong)(Regions - 1) * RegionStride) + 0x200);
        _hole = new GuestAddress(RegionSize + 0x100);   // after the first region, before any other
        if (Translate(_first) != Length || Translate(_last) != Length || Translate(_hole) != 0)
        {
            throw new InvalidOperationException("benchmark setup: unexpected translation results");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _memory.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations)]
    public long HitCache()
    {
        long bytes = 0;
        GuestAddress a = _first;
        for (int i = 0; i < Operations; i++)
        {
            bytes += Translate(a);
        }

        return bytes;
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public long AlternateRegions()
    {
        long bytes = 0;
        GuestAddress a = _first, b = _last;
        for (int i = 0; i < Operations; i += 2)
        {
            bytes += Translate(a);
            bytes += Translate(b);
        }

        return bytes;
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public long Miss()
    {
        long bytes = 0;
        GuestAddress a = _hole;
        for (int i = 0; i < Operations; i++)
        {
            bytes += Translate(a);
        }

        return bytes;
    }

    private int Translate(GuestAddress address) =>
        _memory.TryGetSpan(address, Length, out Span<byte> span) == GuestMemoryStatus.Ok ? span.Length : 0;
}
