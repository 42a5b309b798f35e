using System.Diagnostics;

namespace VirtioRing.Net.Switching;

/// <summary>The time source for MAC aging; replace it in tests to age entries without waiting.</summary>
/// <remarks>The switch reads it once per transmit batch per sender queue (not per frame).</remarks>
public interface INetSwitchClock
{
    /// <summary>Gets the number of ticks per second of <see cref="GetTimestamp"/>.</summary>
    long TicksPerSecond { get; }

    /// <summary>Gets the current time in ticks; only differences matter, and they never go backwards.</summary>
    /// <returns>The time.</returns>
    long GetTimestamp();
}

/// <summary>The default clock: <see cref="Stopwatch.GetTimestamp"/>.</summary>
internal sealed class StopwatchSwitchClock : INetSwitchClock
{
    public static readonly StopwatchSwitchClock Instance = new();

    public long TicksPerSecond => Stopwatch.Frequency;

    public long GetTimestamp() => Stopwatch.GetTimestamp();
}
