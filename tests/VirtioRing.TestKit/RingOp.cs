using System.Globalization;

namespace VirtioRing.TestKit;

/// <summary>One step of a model-based test: a driver or a device operation.</summary>
public enum RingOpKind
{
    /// <summary>Driver: add a chain of <see cref="RingOp.Chain"/>'s shape with a new token.</summary>
    Add,

    /// <summary>Driver: publish the added chains.</summary>
    Publish,

    /// <summary>Driver: decide whether to kick the device.</summary>
    Kick,

    /// <summary>Driver: reclaim one used buffer.</summary>
    Reclaim,

    /// <summary>Driver: enable used buffer notifications.</summary>
    EnableUsedNotifications,

    /// <summary>Driver: disable used buffer notifications.</summary>
    DisableUsedNotifications,

    /// <summary>Device: pop one available chain.</summary>
    Pop,

    /// <summary>Device: write bytes into a held chain and push it as used.</summary>
    Push,

    /// <summary>Device: publish the pushed chains.</summary>
    PublishUsed,

    /// <summary>Device: decide whether to notify the driver.</summary>
    Notify,

    /// <summary>Device: enable available buffer notifications.</summary>
    EnableNotifications,

    /// <summary>Device: disable available buffer notifications.</summary>
    DisableNotifications,
}

/// <summary>A driver or device operation with its parameters.</summary>
/// <param name="Kind">What to do.</param>
/// <param name="Chain">For <see cref="RingOpKind.Add"/>: the chain shape.</param>
/// <param name="Pick">For <see cref="RingOpKind.Push"/>: which held chain (modulo the count; ignored under IN_ORDER, which pushes the oldest).</param>
/// <param name="WrittenPercent">For <see cref="RingOpKind.Push"/>: how much of the writable length the device writes, 0..100.</param>
public sealed record RingOp(RingOpKind Kind, ChainSpec? Chain = null, int Pick = 0, int WrittenPercent = 100)
{
    /// <summary>A driver add.</summary>
    /// <param name="chain">The shape.</param>
    /// <returns>The op.</returns>
    public static RingOp Add(ChainSpec chain) => new(RingOpKind.Add, chain);

    /// <summary>A device push.</summary>
    /// <param name="pick">Which held chain.</param>
    /// <param name="writtenPercent">How much it writes.</param>
    /// <returns>The op.</returns>
    public static RingOp Push(int pick, int writtenPercent) => new(RingOpKind.Push, null, pick, writtenPercent);

    /// <summary>An op without parameters.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>The op.</returns>
    public static RingOp Of(RingOpKind kind) => new(kind);

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        RingOpKind.Add => "Add " + Chain,
        RingOpKind.Push => string.Create(CultureInfo.InvariantCulture, $"Push#{Pick}@{WrittenPercent}%"),
        _ => Kind.ToString(),
    };
}
