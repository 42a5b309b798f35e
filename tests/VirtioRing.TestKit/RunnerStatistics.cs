using System;
using System.Globalization;
using System.Linq;

namespace VirtioRing.TestKit;

/// <summary>Something a model run exercised.</summary>
public enum RunnerEvent
{
    /// <summary>The driver accepted a chain.</summary>
    AddAccepted,

    /// <summary>The driver refused a chain: not enough free descriptors (as the model predicted).</summary>
    AddRejected,

    /// <summary>The device popped a chain of at most 8 segments.</summary>
    Popped,

    /// <summary>The device popped a chain of more than 8 segments (the chain store's overflow path).</summary>
    PoppedLong,

    /// <summary>The device pushed the oldest held chain with a non-zero length.</summary>
    Pushed,

    /// <summary>The device pushed the oldest held chain with length zero (IN_ORDER batching).</summary>
    PushedEmpty,

    /// <summary>The device pushed a chain that was not the oldest held one.</summary>
    PushedOutOfOrder,

    /// <summary>The driver reclaimed a buffer.</summary>
    Reclaimed,

    /// <summary>A notification decision the model required to be true.</summary>
    DecisionTrue,

    /// <summary>A notification decision the model required to be false.</summary>
    DecisionFalse,

    /// <summary>A notification decision the model left open (packed DESC after more than a ring's worth).</summary>
    DecisionOpen,
}

/// <summary>Counts of <see cref="RunnerEvent"/>s.</summary>
public sealed class RunnerStatistics
{
    private readonly long[] _counts = new long[Enum.GetValues<RunnerEvent>().Length];

    /// <summary>Gets the count of one event.</summary>
    /// <param name="e">The event.</param>
    /// <returns>How often it happened.</returns>
    public long this[RunnerEvent e] => _counts[(int)e];

    /// <summary>Counts one event.</summary>
    /// <param name="e">The event.</param>
    public void Count(RunnerEvent e) => _counts[(int)e]++;

    /// <summary>Adds another run's counts.</summary>
    /// <param name="other">The other run.</param>
    public void Add(RunnerStatistics other)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }
    }

    /// <inheritdoc/>
    public override string ToString() =>
        string.Join(" ", Enum.GetValues<RunnerEvent>().Select(e => string.Create(CultureInfo.InvariantCulture, $"{e}={this[e]}")));
}
