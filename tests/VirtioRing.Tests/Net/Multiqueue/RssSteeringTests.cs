using System;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Net.Multiqueue;
using Xunit;
using static VirtioRing.Tests.Net.Multiqueue.TestFrames;

namespace VirtioRing.Tests.Net.Multiqueue;

/// <summary>RSS processing (virtio 1.2 §5.1.6.5.7.3) and hash reporting without RSS (§5.1.6.5.6.4).</summary>
public class RssSteeringTests
{
    private const NetHashTypes All = (NetHashTypes)0x1FF;

    [Fact]
    public void Steer_MicrosoftVector_UsesIndirectionEntryOfHashAndMask()
    {
        // 0x51ccc178 & 127 = 0x78 = 120.
        var table = new ushort[128];
        table[120] = 9;
        var rss = new RssConfiguration(All, MicrosoftKey, table, unclassifiedQueue: 5);
        RssDecision decision = rss.Steering.Steer(IPv4("66.9.149.187", "161.142.100.80", Tcp, 2794, 1766));
        Assert.Equal(new NetHashResult(0x51ccc178, NetHashReport.TcpV4), decision.Hash);
        Assert.Equal(9, decision.ReceiveQueue);
    }

    [Fact]
    public void Steer_Unclassified_GoesToUnclassifiedQueueWithReportNone()
    {
        var rss = new RssConfiguration(NetHashTypes.TcpV4, MicrosoftKey, [0, 1], unclassifiedQueue: 7);
        RssDecision arp = rss.Steering.Steer(Ethernet(0x0806, new byte[28]));
        RssDecision udp = rss.Steering.Steer(IPv4("10.0.0.1", "10.0.0.2", Udp, 1, 2));
        Assert.Equal(7, arp.ReceiveQueue);
        Assert.Equal(NetHashResult.None, arp.Hash);
        Assert.Equal(7, udp.ReceiveQueue);
    }

    [Property(MaxTest = 1000)]
    public Property Steer_AnyFlowAndTable_RespectsIndirectionTable() => Prop.ForAll(
        Arb.From(from log2 in Gen.Choose(0, 7)
                 from table in Gen.ArrayOf(Gen.Choose(0, 15).Select(q => (ushort)q), 1 << log2)
                 from a in Gen.Choose(int.MinValue, int.MaxValue)
                 from b in Gen.Choose(int.MinValue, int.MaxValue)
                 from ports in Gen.Choose(int.MinValue, int.MaxValue)
                 select (table, a, b, ports)),
        c =>
        {
            var rss = new RssConfiguration(All, MicrosoftKey, c.table, unclassifiedQueue: 99);
            byte[] frame = IPv4(BitConverter.GetBytes(c.a), BitConverter.GetBytes(c.b), Tcp, (ushort)c.ports, (ushort)(c.ports >> 16));
            RssDecision d = rss.Steering.Steer(frame);
            uint expectedHash = new ToeplitzHash(MicrosoftKey).Compute(frame.AsSpan(14 + 12, 12));
            return d.Hash.Value == expectedHash && d.ReceiveQueue == c.table[expectedHash & (uint)(c.table.Length - 1)];
        });

    [Fact]
    public void Steering_SameConfiguration_IsBuiltOnce()
    {
        var rss = new RssConfiguration(All, MicrosoftKey, [0], 0);
        Assert.Same(rss.Steering, rss.Steering);
        Assert.Same(rss, rss.Steering.Configuration);
    }

    [Fact]
    public void Constructor_Null_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => new RssSteering(null!));
    }

    [Fact]
    public void HashReportOnly_InitialState_ReportsNone()
    {
        // §5.1.6.5.6.4: "Initially the device has all hash types disabled and reports only VIRTIO_NET_HASH_REPORT_NONE."
        var initial = new NetHashCalculator(NetHashTypes.None, ReadOnlySpan<byte>.Empty);
        Assert.Equal(NetHashResult.None, initial.Calculate(IPv4("10.0.0.1", "10.0.0.2", Tcp, 1, 2)));
    }

    [Fact]
    public void HashReportOnly_WithHashConfig_ReportsWithoutSteering()
    {
        var hashOnly = new NetHashCalculator(NetHashTypes.UdpV4, MicrosoftKey);
        Assert.Equal(NetHashReport.UdpV4, hashOnly.Calculate(IPv4("10.0.0.1", "10.0.0.2", Udp, 1, 2)).Report);
        Assert.Equal(NetHashResult.None, hashOnly.Calculate(IPv4("10.0.0.1", "10.0.0.2", Tcp, 1, 2)));
    }
}
