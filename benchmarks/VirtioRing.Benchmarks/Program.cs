// Runs the benchmarks BenchmarkDotNet's switcher selects (--filter '*' for all) and fails when any
// of them allocated: the hot paths must allocate nothing in steady state (STYLE C10, C14).
using System;
using System.Collections.Generic;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

IEnumerable<Summary> summaries = BenchmarkSwitcher.FromAssembly(typeof(VirtioRing.Benchmarks.Memory.GuestMemoryBenchmarks).Assembly).Run(args);

int allocating = 0, failed = 0;
foreach (Summary summary in summaries)
{
    foreach (BenchmarkReport report in summary.Reports)
    {
        if (!report.Success)
        {
            failed++;
            Console.Error.WriteLine($"FAILED: {report.BenchmarkCase.DisplayInfo} did not run to completion");
            continue;
        }

        long? bytes = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
        if (bytes is > 0)
        {
            allocating++;
            Console.Error.WriteLine($"ALLOCATES: {report.BenchmarkCase.DisplayInfo}: {bytes} B/op");
        }
    }
}

if (allocating > 0 || failed > 0)
{
    Console.Error.WriteLine($"{allocating} benchmark(s) allocated, {failed} failed");
    return 1;
}

return 0;
