using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace VirtioRing.TestKit;

/// <summary>A model-based test case: a queue configuration, a sequence of operations, and a seed for the bytes written.</summary>
/// <param name="Config">The queue.</param>
/// <param name="Ops">The operations, applied in order (then the queue is drained).</param>
/// <param name="Seed">Seeds the bytes the driver and the device write.</param>
public sealed record ModelScenario(QueueConfig Config, IReadOnlyList<RingOp> Ops, int Seed)
{
    /// <summary>Gets whether every chain fits the configuration (shrinking keeps this true).</summary>
    public bool IsValid => Config.IsValid && Ops.All(o => o.Kind != RingOpKind.Add || (o.Chain is not null && o.Chain.SegmentCount <= Config.MaxChainSegments));

    /// <inheritdoc/>
    public bool Equals(ModelScenario? other) =>
        other is not null && Config == other.Config && Seed == other.Seed && Ops.SequenceEqual(other.Ops);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Config, Seed, Ops.Count);

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Config} seed={Seed} ops({Ops.Count})=[{string.Join("; ", Ops)}]");
}
