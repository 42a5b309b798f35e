using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace VirtioRing.Net;

/// <summary>
/// The outcome of a feature-set check: valid, or the first rule broken — which feature, and which
/// feature(s) it needed. A value: checking allocates nothing.
/// </summary>
[DebuggerDisplay("{ToString(),nq}")]
[StructLayout(LayoutKind.Auto)]
public readonly struct NetFeatureCheck : System.IEquatable<NetFeatureCheck>
{
    internal NetFeatureCheck(NetFeatureError error, NetFeatures feature, NetFeatures required, bool requiresAny)
    {
        Error = error;
        Feature = feature;
        Required = required;
        RequiresAny = requiresAny;
    }

    /// <summary>Gets a valid result.</summary>
    public static NetFeatureCheck Valid => default;

    /// <summary>Gets why the set was refused, or <see cref="NetFeatureError.None"/>.</summary>
    public NetFeatureError Error { get; }

    /// <summary>Gets whether the set is valid.</summary>
    public bool IsValid => Error == NetFeatureError.None;

    /// <summary>Gets the offending feature: not offered, or accepted without its dependency (one bit; <see cref="NetFeatures.None"/> when valid).</summary>
    public NetFeatures Feature { get; }

    /// <summary>Gets what <see cref="Feature"/> needed and did not get (for <see cref="NetFeatureError.MissingDependency"/> and <see cref="NetFeatureError.Version1Required"/>).</summary>
    public NetFeatures Required { get; }

    /// <summary>Gets whether any one bit of <see cref="Required"/> would have done (otherwise all of them are needed).</summary>
    public bool RequiresAny { get; }

    /// <inheritdoc/>
    public bool Equals(NetFeatureCheck other) =>
        Error == other.Error && Feature == other.Feature && Required == other.Required && RequiresAny == other.RequiresAny;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NetFeatureCheck other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => ((int)Error * 397) ^ Feature.GetHashCode() ^ (Required.GetHashCode() * 31);

    /// <summary>Compares two results.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(NetFeatureCheck left, NetFeatureCheck right) => left.Equals(right);

    /// <summary>Compares two results.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(NetFeatureCheck left, NetFeatureCheck right) => !left.Equals(right);

    /// <summary>Describes the result (allocates: for logs, not for hot paths).</summary>
    /// <returns>A sentence.</returns>
    public override string ToString() => Error switch
    {
        NetFeatureError.None => "valid",
        NetFeatureError.NotOffered => string.Format(CultureInfo.InvariantCulture, "{0} was accepted but not offered", Feature),
        NetFeatureError.Version1Required => "VERSION_1 was not accepted (the modern interface requires it)",
        _ => string.Format(CultureInfo.InvariantCulture, "{0} requires {1}{2}", Feature, RequiresAny ? "one of " : string.Empty, Required),
    };
}
