using System;

namespace QueueDemo;

/// <summary>What a run did.</summary>
internal sealed record DemoResult(
    long Moved,
    long Bytes,
    long DeviceVerified,
    long DriverVerified,
    long Kicks,
    long Interrupts,
    TimeSpan Elapsed,
    string? Error)
{
    /// <summary>Gets the throughput in millions of buffers per second.</summary>
    public double MegaBuffersPerSecond => Elapsed.TotalSeconds > 0 ? Moved / Elapsed.TotalSeconds / 1e6 : 0;
}
