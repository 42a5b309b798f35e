// Runs the benchmarks BenchmarkDotNet's switcher selects (--filter '*' for all) and fails when any
// of them allocated: the hot paths must allocate nothing in steady state (STYLE C10, C14).
// The Linux TAP/packet benchmarks (namespace VirtioRing.Benchmarks.Linux) create interfaces, so they are offered
// only when benchmarks/linux/tap-vs-dpdk.sh runs this program inside its own network namespace (VRB_NETNS set).
using System;
using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

bool linux = VirtioRing.Benchmarks.Linux.BenchNamespace.IsRequested;
Type[] types = typeof(VirtioRing.Benchmarks.Memory.GuestMemoryBenchmarks).Assembly.GetTypes()
    .Where(t => t.IsPublic && !t.IsAbstract && t.GetMethods().Any(m => m.IsDefined(typeof(BenchmarkDotNet.Attributes.BenchmarkAttribute), false)))
    .Where(t => linux || t.Namespace != "VirtioRing.Benchmarks.Linux")
    .ToArray();
IEnumerable<Summary> summaries = BenchmarkSwitcher.FromTypes(types).Run(args);

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
