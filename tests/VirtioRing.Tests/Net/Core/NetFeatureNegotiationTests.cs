using System;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Net;
using VirtioRing.Queues;
using Xunit;

namespace VirtioRing.Tests.Net.Core;

public class NetFeatureNegotiationTests
{
    private const NetFeatures V1 = NetFeatures.Version1;

    // Each spec requirement of virtio 1.3 §5.1.3.1, as (feature, what satisfies it).
    public static TheoryData<NetFeatures, NetFeatures> SpecRequirements => new()
    {
        { NetFeatures.GuestTso4, NetFeatures.GuestCsum },
        { NetFeatures.GuestTso6, NetFeatures.GuestCsum },
        { NetFeatures.GuestEcn, NetFeatures.GuestTso4 | NetFeatures.GuestCsum },
        { NetFeatures.GuestUfo, NetFeatures.GuestCsum },
        { NetFeatures.GuestUso4, NetFeatures.GuestCsum },
        { NetFeatures.GuestUso6, NetFeatures.GuestCsum },
        { NetFeatures.HostTso4, NetFeatures.Csum },
        { NetFeatures.HostTso6, NetFeatures.Csum },
        { NetFeatures.HostEcn, NetFeatures.HostTso6 | NetFeatures.Csum },
        { NetFeatures.HostUfo, NetFeatures.Csum },
        { NetFeatures.HostUso, NetFeatures.Csum },
        { NetFeatures.CtrlRx, NetFeatures.CtrlVq },
        { NetFeatures.CtrlVlan, NetFeatures.CtrlVq },
        { NetFeatures.GuestAnnounce, NetFeatures.CtrlVq },
        { NetFeatures.Mq, NetFeatures.CtrlVq },
        { NetFeatures.CtrlMacAddr, NetFeatures.CtrlVq },
        { NetFeatures.NotfCoal, NetFeatures.CtrlVq },
        { NetFeatures.RscExt, NetFeatures.HostTso4 | NetFeatures.Csum },
        { NetFeatures.Rss, NetFeatures.CtrlVq },
        { NetFeatures.VqNotfCoal, NetFeatures.CtrlVq },
        { NetFeatures.HashTunnel, NetFeatures.CtrlVq | NetFeatures.Rss },
        { NetFeatures.RingPacked, NetFeatures.None },
    };

    [Theory]
    [MemberData(nameof(SpecRequirements))]
    public void Validate_SpecRequirementMissing_RefusedNamingFeature(NetFeatures feature, NetFeatures satisfiedBy)
    {
        NetFeatures all = (NetFeatures)ulong.MaxValue;
        NetFeatures alone = feature == NetFeatures.RingPacked ? feature : feature | V1;   // RING_PACKED's requirement is VERSION_1 itself
        NetFeatureCheck bad = NetFeatureNegotiation.Validate(all, alone, NetFeatureRules.Required, requireVersion1: false);
        Assert.Equal(NetFeatureError.MissingDependency, bad.Error);
        Assert.Equal(feature, bad.Feature);
        Assert.NotEqual(NetFeatures.None, bad.Required);

        NetFeatureCheck good = NetFeatureNegotiation.Validate(all, feature | satisfiedBy | V1, NetFeatureRules.Required);
        Assert.True(good.IsValid, good.ToString());
    }

    [Fact]
    public void Validate_GuestEcnWithoutTso_ReportsEitherTsoAsAlternatives()
    {
        NetFeatureCheck c = NetFeatureNegotiation.CheckDependencies(NetFeatures.GuestEcn | NetFeatures.GuestCsum);
        Assert.Equal(NetFeatureError.MissingDependency, c.Error);
        Assert.Equal(NetFeatures.GuestEcn, c.Feature);
        Assert.Equal(NetFeatures.GuestTso4 | NetFeatures.GuestTso6, c.Required);
        Assert.True(c.RequiresAny);
        Assert.Contains("one of", c.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_HashTunnelWithCtrlVqButNeitherRssNorHashReport_Refused()
    {
        NetFeatureCheck c = NetFeatureNegotiation.CheckDependencies(NetFeatures.HashTunnel | NetFeatures.CtrlVq, NetFeatureRules.Required);
        Assert.Equal(NetFeatures.HashTunnel, c.Feature);
        Assert.Equal(NetFeatures.Rss | NetFeatures.HashReport, c.Required);
        Assert.True(NetFeatureNegotiation.CheckDependencies(NetFeatures.HashTunnel | NetFeatures.CtrlVq | NetFeatures.HashReport).IsValid);
    }

    [Theory]
    [InlineData(NetFeatures.HashReport, NetFeatures.CtrlVq)]
    [InlineData(NetFeatures.CtrlRxExtra, NetFeatures.CtrlVq)]
    [InlineData(NetFeatures.CtrlGuestOffloads, NetFeatures.CtrlVq)]
    public void CheckDependencies_RecommendedRule_OnlyUnderRecommended(NetFeatures feature, NetFeatures required)
    {
        Assert.True(NetFeatureNegotiation.CheckDependencies(feature, NetFeatureRules.Required).IsValid);
        NetFeatureCheck strict = NetFeatureNegotiation.CheckDependencies(feature);
        Assert.Equal(feature, strict.Feature);
        Assert.Equal(required, strict.Required);
    }

    [Fact]
    public void CheckDependencies_CtrlRxExtraWithCtrlVqOnly_NeedsCtrlRx()
    {
        NetFeatureCheck c = NetFeatureNegotiation.CheckDependencies(NetFeatures.CtrlRxExtra | NetFeatures.CtrlVq);
        Assert.Equal(NetFeatures.CtrlRxExtra, c.Feature);
        Assert.Equal(NetFeatures.CtrlRx, c.Required);
    }

    [Fact]
    public void Validate_AcceptedNotOffered_RefusedWithLowestExtraBit()
    {
        NetFeatureCheck c = NetFeatureNegotiation.Validate(V1 | NetFeatures.Csum, V1 | NetFeatures.Csum | NetFeatures.Mac | NetFeatures.Mtu);
        Assert.Equal(NetFeatureError.NotOffered, c.Error);
        Assert.Equal(NetFeatures.Mtu, c.Feature);
    }

    [Fact]
    public void Validate_NoVersion1_RefusedUnlessLegacyAllowed()
    {
        Assert.Equal(NetFeatureError.Version1Required, NetFeatureNegotiation.Validate(V1 | NetFeatures.Mac, NetFeatures.Mac).Error);
        Assert.True(NetFeatureNegotiation.Validate(V1 | NetFeatures.Mac, NetFeatures.Mac, requireVersion1: false).IsValid);
    }

    [Fact]
    public void Validate_TypicalLinuxSet_Valid()
    {
        NetFeatures linux = V1 | NetFeatures.Csum | NetFeatures.GuestCsum | NetFeatures.Mac | NetFeatures.GuestTso4 | NetFeatures.GuestTso6 |
            NetFeatures.GuestEcn | NetFeatures.GuestUfo | NetFeatures.HostTso4 | NetFeatures.HostTso6 | NetFeatures.HostEcn | NetFeatures.HostUfo |
            NetFeatures.MrgRxBuf | NetFeatures.Status | NetFeatures.CtrlVq | NetFeatures.CtrlRx | NetFeatures.CtrlVlan | NetFeatures.GuestAnnounce |
            NetFeatures.Mq | NetFeatures.CtrlMacAddr | NetFeatures.EventIdx | NetFeatures.IndirectDesc | NetFeatures.RingPacked;
        Assert.Equal(NetFeatureCheck.Valid, NetFeatureNegotiation.Validate(linux, linux));
    }

    [Fact]
    public void RestrictToBackend_NoChecksum_DropsEveryOffloadAndDependents()
    {
        NetFeatures offer = V1 | NetFeatures.Csum | NetFeatures.GuestCsum | NetFeatures.HostTso4 | NetFeatures.GuestTso4 | NetFeatures.GuestEcn |
            NetFeatures.HostEcn | NetFeatures.RscExt | NetFeatures.Mac | NetFeatures.CtrlVq | NetFeatures.Mq;
        NetFeatures r = NetFeatureNegotiation.RestrictToBackend(offer, NetOffloads.All & ~NetOffloads.Checksum);
        Assert.Equal(V1 | NetFeatures.Mac | NetFeatures.CtrlVq | NetFeatures.Mq, r);
    }

    [Fact]
    public void RestrictToBackend_ChecksumAndTso4Only_KeepsThemDropsTheRest()
    {
        NetFeatures offer = V1 | NetFeatures.Csum | NetFeatures.GuestCsum | NetFeatures.HostTso4 | NetFeatures.HostTso6 | NetFeatures.GuestTso4 |
            NetFeatures.GuestTso6 | NetFeatures.HostUfo | NetFeatures.HostUso | NetFeatures.GuestUso4 | NetFeatures.HostEcn | NetFeatures.HashReport | NetFeatures.CtrlVq;
        NetFeatures r = NetFeatureNegotiation.RestrictToBackend(offer, NetOffloads.Checksum | NetOffloads.Tso4 | NetOffloads.Uso4);
        Assert.Equal(V1 | NetFeatures.Csum | NetFeatures.GuestCsum | NetFeatures.HostTso4 | NetFeatures.GuestTso4 | NetFeatures.GuestUso4 | NetFeatures.CtrlVq, r);
    }

    [Fact]
    public void RemoveUnsatisfied_ChainOfDependents_RemovedTransitively()
    {
        // RSC_EXT needs HOST_TSO4 which needs CSUM; HOST_ECN needs HOST_TSO4: all go with CSUM.
        NetFeatures f = NetFeatures.HostTso4 | NetFeatures.HostEcn | NetFeatures.RscExt | NetFeatures.Mac;
        Assert.Equal(NetFeatures.Mac, NetFeatureNegotiation.RemoveUnsatisfied(f));
    }

    [Property(MaxTest = 1000)]
    public void RemoveUnsatisfied_AnySet_ResultIsValidSubset(ulong bits)
    {
        var f = (NetFeatures)bits;
        NetFeatures r = NetFeatureNegotiation.RemoveUnsatisfied(f);
        Assert.Equal(r, r & f);
        Assert.True(NetFeatureNegotiation.CheckDependencies(r).IsValid);
        Assert.Equal(r, NetFeatureNegotiation.RemoveUnsatisfied(r));
    }

    [Property(MaxTest = 1000)]
    public void Accept_AnyOfferAndWish_PassesValidate(ulong offered, ulong wanted)
    {
        var offer = (NetFeatures)offered | V1;
        NetFeatures accepted = NetFeatureNegotiation.Accept(offer, (NetFeatures)wanted | V1);
        Assert.True(NetFeatureNegotiation.Validate(offer, accepted).IsValid);
    }

    [Property(MaxTest = 1000)]
    public void RestrictToBackend_AnyOffer_HasNoOffloadTheBackendLacks(ulong offered, byte offloads)
    {
        var backend = (NetOffloads)offloads;
        NetFeatures r = NetFeatureNegotiation.RestrictToBackend((NetFeatures)offered, backend);
        Assert.True(NetFeatureNegotiation.CheckDependencies(r).IsValid);
        if ((backend & NetOffloads.Checksum) == 0)
        {
            Assert.Equal(NetFeatures.None, r & (NetFeatures.Csum | NetFeatures.GuestCsum | NetFeatures.HostTso4 | NetFeatures.GuestTso6 | NetFeatures.HostUso));
        }

        if ((backend & NetOffloads.HashReport) == 0)
        {
            Assert.Equal(NetFeatures.None, r & NetFeatures.HashReport);
        }
    }

    [Theory]
    [InlineData(NetFeatures.None, VirtqueueFeatures.None)]
    [InlineData(NetFeatures.IndirectDesc, VirtqueueFeatures.IndirectDescriptors)]
    [InlineData(NetFeatures.EventIdx | NetFeatures.Mac, VirtqueueFeatures.EventIndex)]
    [InlineData(NetFeatures.InOrder | NetFeatures.RingPacked | NetFeatures.EventIdx | NetFeatures.IndirectDesc,
        VirtqueueFeatures.InOrder | VirtqueueFeatures.EventIndex | VirtqueueFeatures.IndirectDescriptors)]
    public void ToVirtqueueFeatures_Bits_MapOneToOne(NetFeatures net, VirtqueueFeatures expected)
    {
        Assert.Equal(expected, NetFeatureNegotiation.ToVirtqueueFeatures(net));
        Assert.Equal((net & NetFeatures.RingPacked) != 0, NetFeatureNegotiation.UsesPackedRings(net));
    }
}
