using System.Runtime.CompilerServices;
using VirtioRing.Queues;

namespace VirtioRing.Net;

/// <summary>
/// Feature negotiation for virtio-net (virtio 1.3 §2.2, §5.1.3, §5.1.3.1): a device offers a set, a
/// driver accepts a subset, and the accepted set must satisfy the spec's dependency rules. A refused
/// set comes back as a <see cref="NetFeatureCheck"/> naming the feature and what it lacked (the
/// device then does not set <c>FEATURES_OK</c>, §3.1.1). Also: the device-side restriction of an
/// offer to what a backend can carry, and the ring features a negotiated set implies.
/// </summary>
public static class NetFeatureNegotiation
{
    private const NetFeatures CtrlVq = NetFeatures.CtrlVq;

    // One row per rule: Feature needs all of Requires (or, when Any, at least one bit of it).
    // Order is the spec's list order (§5.1.3.1), then the transport rule, then the recommended ones,
    // so the first broken rule reported is stable.
    private static readonly Rule[] Rules =
    [
        // virtio 1.3 §5.1.3.1 Feature bit requirements.
        new(NetFeatures.GuestTso4, NetFeatures.GuestCsum, false, NetFeatureRules.Required),
        new(NetFeatures.GuestTso6, NetFeatures.GuestCsum, false, NetFeatureRules.Required),
        new(NetFeatures.GuestEcn, NetFeatures.GuestTso4 | NetFeatures.GuestTso6, true, NetFeatureRules.Required),
        new(NetFeatures.GuestUfo, NetFeatures.GuestCsum, false, NetFeatureRules.Required),
        new(NetFeatures.GuestUso4, NetFeatures.GuestCsum, false, NetFeatureRules.Required),
        new(NetFeatures.GuestUso6, NetFeatures.GuestCsum, false, NetFeatureRules.Required),
        new(NetFeatures.HostTso4, NetFeatures.Csum, false, NetFeatureRules.Required),
        new(NetFeatures.HostTso6, NetFeatures.Csum, false, NetFeatureRules.Required),
        new(NetFeatures.HostEcn, NetFeatures.HostTso4 | NetFeatures.HostTso6, true, NetFeatureRules.Required),
        new(NetFeatures.HostUfo, NetFeatures.Csum, false, NetFeatureRules.Required),
        new(NetFeatures.HostUso, NetFeatures.Csum, false, NetFeatureRules.Required),
        new(NetFeatures.CtrlRx, CtrlVq, false, NetFeatureRules.Required),
        new(NetFeatures.CtrlVlan, CtrlVq, false, NetFeatureRules.Required),
        new(NetFeatures.GuestAnnounce, CtrlVq, false, NetFeatureRules.Required),
        new(NetFeatures.Mq, CtrlVq, false, NetFeatureRules.Required),
        new(NetFeatures.CtrlMacAddr, CtrlVq, false, NetFeatureRules.Required),
        new(NetFeatures.NotfCoal, CtrlVq, false, NetFeatureRules.Required),

        // The requirement list says HOST_TSO4 or HOST_TSO6; the receive-processing text of §5.1.6.4
        // says RSC_EXT "implies one of VIRTIO_NET_F_GUEST_TSO4, TSO6". The normative list wins here.
        new(NetFeatures.RscExt, NetFeatures.HostTso4 | NetFeatures.HostTso6, true, NetFeatureRules.Required),
        new(NetFeatures.Rss, CtrlVq, false, NetFeatureRules.Required),
        new(NetFeatures.VqNotfCoal, CtrlVq, false, NetFeatureRules.Required),
        new(NetFeatures.HashTunnel, CtrlVq, false, NetFeatureRules.Required),
        new(NetFeatures.HashTunnel, NetFeatures.Rss | NetFeatures.HashReport, true, NetFeatureRules.Required),

        // Transport: the packed layout exists only in the 1.x interface (§2.8; legacy is §2.7 only).
        new(NetFeatures.RingPacked, NetFeatures.Version1, false, NetFeatureRules.Required),

        // SHOULDs and implied rules (see NetFeatureRules.Recommended).
        new(NetFeatures.HashReport, CtrlVq, false, NetFeatureRules.Recommended),
        new(NetFeatures.CtrlRxExtra, CtrlVq, false, NetFeatureRules.Recommended),
        new(NetFeatures.CtrlRxExtra, NetFeatures.CtrlRx, false, NetFeatureRules.Recommended),
        new(NetFeatures.CtrlGuestOffloads, CtrlVq, false, NetFeatureRules.Recommended),
    ];

    /// <summary>
    /// Checks what a driver accepted against what the device offered: accepted ⊆ offered (§2.2),
    /// every dependency rule in <paramref name="rules"/>, and <c>VERSION_1</c> when the modern
    /// interface is required (§6.1: a device MAY fail when it is not accepted; this library's modern
    /// transports do).
    /// </summary>
    /// <param name="offered">The device's offer.</param>
    /// <param name="accepted">The driver's accepted set.</param>
    /// <param name="rules">The rules to enforce.</param>
    /// <param name="requireVersion1">Whether a set without <c>VERSION_1</c> (a legacy driver) is refused.</param>
    /// <returns>Valid, or the first broken rule: not offered bits first, then <c>VERSION_1</c>, then dependencies in the spec's order.</returns>
    public static NetFeatureCheck Validate(NetFeatures offered, NetFeatures accepted, NetFeatureRules rules = NetFeatureRules.Strict, bool requireVersion1 = true)
    {
        NetFeatures extra = accepted & ~offered;
        if (extra != NetFeatures.None)
        {
            return new NetFeatureCheck(NetFeatureError.NotOffered, LowestBit(extra), NetFeatures.None, false);
        }

        if (requireVersion1 && (accepted & NetFeatures.Version1) == 0)
        {
            return new NetFeatureCheck(NetFeatureError.Version1Required, NetFeatures.Version1, NetFeatures.Version1, false);
        }

        return CheckDependencies(accepted, rules);
    }

    /// <summary>Checks a set against the dependency rules only (for an offer a device is about to make, or a set built by hand).</summary>
    /// <param name="features">The set.</param>
    /// <param name="rules">The rules to enforce.</param>
    /// <returns>Valid, or the first broken rule in the spec's order.</returns>
    public static NetFeatureCheck CheckDependencies(NetFeatures features, NetFeatureRules rules = NetFeatureRules.Strict)
    {
        Rule[] table = Rules;
        for (int i = 0; i < table.Length; i++)
        {
            Rule r = table[i];
            if ((r.Kind & rules) != 0 && (features & r.Feature) != 0 && !r.IsSatisfiedBy(features))
            {
                return new NetFeatureCheck(NetFeatureError.MissingDependency, r.Feature, r.Requires, r.Any);
            }
        }

        return NetFeatureCheck.Valid;
    }

    /// <summary>
    /// Removes every feature whose dependencies are missing, repeatedly, until the set satisfies the
    /// rules (dropping <c>GUEST_CSUM</c> takes <c>GUEST_TSO4</c> with it, and then <c>GUEST_ECN</c>).
    /// The result is the largest subset of <paramref name="features"/> that passes <see cref="CheckDependencies"/>.
    /// </summary>
    /// <param name="features">The set.</param>
    /// <param name="rules">The rules to enforce.</param>
    /// <returns>The closed set.</returns>
    public static NetFeatures RemoveUnsatisfied(NetFeatures features, NetFeatureRules rules = NetFeatureRules.Strict)
    {
        Rule[] table = Rules;

        // Each pass removes at least one bit or stops, so 64 passes bound it; the chains are two deep.
        for (int pass = 0; pass < 64; pass++)
        {
            NetFeatures before = features;
            for (int i = 0; i < table.Length; i++)
            {
                Rule r = table[i];
                if ((r.Kind & rules) != 0 && (features & r.Feature) != 0 && !r.IsSatisfiedBy(features))
                {
                    features &= ~r.Feature;
                }
            }

            if (features == before)
            {
                break;
            }
        }

        return features;
    }

    /// <summary>
    /// The driver side: takes what it wants of an offer and drops whatever would break a rule,
    /// giving a set that <see cref="Validate"/> accepts (when the offer has <c>VERSION_1</c>).
    /// </summary>
    /// <param name="offered">The device's offer.</param>
    /// <param name="wanted">What the driver supports.</param>
    /// <param name="rules">The rules to enforce.</param>
    /// <returns>The set to accept.</returns>
    public static NetFeatures Accept(NetFeatures offered, NetFeatures wanted, NetFeatureRules rules = NetFeatureRules.Strict) =>
        RemoveUnsatisfied(offered & wanted, rules);

    /// <summary>
    /// The device side: drops from an offer every offload the backend cannot carry (see
    /// <see cref="NetOffloads"/> for the mapping), then every feature whose dependency went with it.
    /// Non-offload features pass through unchanged.
    /// </summary>
    /// <param name="offered">The offer the device would make with a perfect backend.</param>
    /// <param name="backend">What the backend carries (OR in what the engine does in software).</param>
    /// <param name="rules">The rules used to drop dependents.</param>
    /// <returns>The offer to make.</returns>
    public static NetFeatures RestrictToBackend(NetFeatures offered, NetOffloads backend, NetFeatureRules rules = NetFeatureRules.Strict)
    {
        NetFeatures drop = NetFeatures.None;
        if ((backend & NetOffloads.Checksum) == 0)
        {
            drop |= NetFeatures.Csum | NetFeatures.GuestCsum;
        }

        if ((backend & NetOffloads.Tso4) == 0)
        {
            drop |= NetFeatures.HostTso4 | NetFeatures.GuestTso4;
        }

        if ((backend & NetOffloads.Tso6) == 0)
        {
            drop |= NetFeatures.HostTso6 | NetFeatures.GuestTso6;
        }

        if ((backend & NetOffloads.Ufo) == 0)
        {
            drop |= NetFeatures.HostUfo | NetFeatures.GuestUfo;
        }

        if ((backend & NetOffloads.Uso4) == 0)
        {
            drop |= NetFeatures.GuestUso4;
        }

        if ((backend & NetOffloads.Uso6) == 0)
        {
            drop |= NetFeatures.GuestUso6;
        }

        // HOST_USO covers both address families (§5.1.3): the backend must take both.
        if ((backend & (NetOffloads.Uso4 | NetOffloads.Uso6)) != (NetOffloads.Uso4 | NetOffloads.Uso6))
        {
            drop |= NetFeatures.HostUso;
        }

        if ((backend & NetOffloads.Ecn) == 0)
        {
            drop |= NetFeatures.HostEcn | NetFeatures.GuestEcn;
        }

        if ((backend & NetOffloads.HashReport) == 0)
        {
            drop |= NetFeatures.HashReport;
        }

        return RemoveUnsatisfied(offered & ~drop, rules);
    }

    /// <summary>Gets the ring features a negotiated set implies (<c>INDIRECT_DESC</c>, <c>EVENT_IDX</c>, <c>IN_ORDER</c>; §6).</summary>
    /// <param name="negotiated">The negotiated set.</param>
    /// <returns>The flags to construct queues with.</returns>
    public static VirtqueueFeatures ToVirtqueueFeatures(NetFeatures negotiated)
    {
        VirtqueueFeatures f = VirtqueueFeatures.None;
        if ((negotiated & NetFeatures.IndirectDesc) != 0)
        {
            f |= VirtqueueFeatures.IndirectDescriptors;
        }

        if ((negotiated & NetFeatures.EventIdx) != 0)
        {
            f |= VirtqueueFeatures.EventIndex;
        }

        if ((negotiated & NetFeatures.InOrder) != 0)
        {
            f |= VirtqueueFeatures.InOrder;
        }

        return f;
    }

    /// <summary>Gets whether a negotiated set uses packed rings (<c>VIRTIO_F_RING_PACKED</c>, §2.8) rather than split ones.</summary>
    /// <param name="negotiated">The negotiated set.</param>
    /// <returns><see langword="true"/> for packed rings.</returns>
    public static bool UsesPackedRings(NetFeatures negotiated) => (negotiated & NetFeatures.RingPacked) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static NetFeatures LowestBit(NetFeatures f) => (NetFeatures)((ulong)f & (~(ulong)f + 1));

    private readonly struct Rule(NetFeatures feature, NetFeatures requires, bool any, NetFeatureRules kind)
    {
        public NetFeatures Feature { get; } = feature;

        public NetFeatures Requires { get; } = requires;

        public bool Any { get; } = any;

        public NetFeatureRules Kind { get; } = kind;

        public bool IsSatisfiedBy(NetFeatures f) => Any ? (f & Requires) != 0 : (f & Requires) == Requires;
    }
}
