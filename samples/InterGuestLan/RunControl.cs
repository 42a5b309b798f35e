using System.Diagnostics;
using System.Threading;

namespace InterGuestLan;

/// <summary>The phases every guest thread follows: send until the deadline (or a stop), then only receive until the run is done.</summary>
internal sealed class RunControl
{
    private readonly long _deadline;
    private string? _stopReason;
    private volatile bool _done;

    /// <summary>Starts the clock.</summary>
    /// <param name="durationSeconds">How long the guests send.</param>
    public RunControl(int durationSeconds)
    {
        StartTimestamp = Stopwatch.GetTimestamp();
        _deadline = StartTimestamp + (durationSeconds * Stopwatch.Frequency);
    }

    /// <summary>Gets when sending started.</summary>
    public long StartTimestamp { get; }

    /// <summary>Gets whether the guests should stop sending (the deadline passed, or <see cref="RequestStop"/> was called).</summary>
    public bool StopSending => Volatile.Read(ref _stopReason) is not null || Stopwatch.GetTimestamp() >= _deadline;

    /// <summary>Gets why sending stopped early, or <see langword="null"/>.</summary>
    public string? StopReason => Volatile.Read(ref _stopReason);

    /// <summary>Gets whether the guest threads should exit (the drain is over).</summary>
    public bool Done => _done;

    /// <summary>Stops sending early; the first reason is kept.</summary>
    /// <param name="reason">Why (Ctrl-C, a failure).</param>
    public void RequestStop(string reason) => Interlocked.CompareExchange(ref _stopReason, reason, null);

    /// <summary>Tells the guest threads to exit.</summary>
    public void Finish() => _done = true;
}
