using System;
using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Packet;

// TEMPORARY until INetBackendHost.ReportFault lands on main; deleted at the merge.
internal static class TemporaryFaultShim
{
    public static void ReportFault(this INetBackendHost host, int queue, Exception failure)
    {
        _ = host;
        _ = queue;
        _ = failure;
    }
}
