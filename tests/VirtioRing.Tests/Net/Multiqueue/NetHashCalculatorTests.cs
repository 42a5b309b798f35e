using System;
using System.Collections.Generic;
using VirtioRing.Net.Multiqueue;
using Xunit;
using static VirtioRing.Tests.Net.Multiqueue.TestFrames;

namespace VirtioRing.Tests.Net.Multiqueue;

/// <summary>Classification and hash-type precedence of virtio 1.2 §5.1.6.4.3.2–§5.1.6.4.3.4.</summary>
public class NetHashCalculatorTests
{
    private const NetHashTypes All = (NetHashTypes)0x1FF;
    private const NetHashTypes AllButEx = NetHashTypes.IPv4 | NetHashTypes.TcpV4 | NetHashTypes.UdpV4 | NetHashTypes.IPv6 | NetHashTypes.TcpV6 | NetHashTypes.UdpV6;
    private const string Src6 = "2001:db8::1";
    private const string Dst6 = "2001:db8::2";
    private const string Home6 = "2001:db8:aaaa::10";
    private const string Care6 = "2001:db8:bbbb::20";

    private static readonly ToeplitzHash Key = new(MicrosoftKey);

    private static NetHashResult Hash(NetHashTypes types, byte[] frame) => new NetHashCalculator(types, MicrosoftKey).Calculate(frame);

    private static NetHashResult Expected(NetHashReport report, params byte[][] parts) => new(Key.Compute(Concat(parts)), report);

    [Fact]
    public void Calculate_TcpV4AllTypes_HashesAddressesAndPorts()
    {
        byte[] frame = IPv4("10.0.0.1", "10.0.0.2", Tcp, 1234, 80);
        Assert.Equal(Expected(NetHashReport.TcpV4, Addr("10.0.0.1"), Addr("10.0.0.2"), Port(1234), Port(80)), Hash(All, frame));
    }

    [Fact]
    public void Calculate_UdpV4_UsesUdpTypeOrFallsBackToAddresses()
    {
        byte[] frame = IPv4("10.0.0.1", "10.0.0.2", Udp, 53, 5353);
        Assert.Equal(Expected(NetHashReport.UdpV4, Addr("10.0.0.1"), Addr("10.0.0.2"), Port(53), Port(5353)), Hash(All, frame));
        Assert.Equal(Expected(NetHashReport.IPv4, Addr("10.0.0.1"), Addr("10.0.0.2")), Hash(NetHashTypes.TcpV4 | NetHashTypes.IPv4, frame));
        Assert.Equal(NetHashResult.None, Hash(NetHashTypes.TcpV4 | NetHashTypes.TcpV6, frame));
    }

    [Fact]
    public void Calculate_TcpV4WithOnlyUdpAndIPv4Enabled_HashesAddresses()
    {
        byte[] frame = IPv4("10.0.0.1", "10.0.0.2", Tcp, 1, 2);
        Assert.Equal(NetHashReport.IPv4, Hash(NetHashTypes.UdpV4 | NetHashTypes.IPv4, frame).Report);
    }

    [Fact]
    public void Calculate_IcmpV4_HashesAddresses()
    {
        byte[] frame = IPv4("10.0.0.1", "10.0.0.2", 1);
        Assert.Equal(Expected(NetHashReport.IPv4, Addr("10.0.0.1"), Addr("10.0.0.2")), Hash(All, frame));
    }

    [Theory]
    [InlineData(0x2000)]   // more fragments, offset 0: the first fragment
    [InlineData(0x0010)]   // a later fragment
    [InlineData(0x2010)]
    public void Calculate_FragmentedIPv4_HashesAddressesOnly(int flagsFragment)
    {
        byte[] frame = IPv4("10.0.0.1", "10.0.0.2", Tcp, 1234, 80, flagsFragment: (ushort)flagsFragment);
        Assert.Equal(Expected(NetHashReport.IPv4, Addr("10.0.0.1"), Addr("10.0.0.2")), Hash(All, frame));
        Assert.Equal(NetHashResult.None, Hash(NetHashTypes.TcpV4, frame));
    }

    [Fact]
    public void Calculate_IPv4WithOptions_FindsPortsAfterOptions()
    {
        byte[] frame = IPv4("10.0.0.1", "10.0.0.2", Tcp, 1234, 80, optionsLength: 12);
        Assert.Equal(Expected(NetHashReport.TcpV4, Addr("10.0.0.1"), Addr("10.0.0.2"), Port(1234), Port(80)), Hash(All, frame));
    }

    [Fact]
    public void Calculate_VlanTagged_HashesLikeUntagged()
    {
        byte[] plain = IPv4("10.0.0.1", "10.0.0.2", Udp, 7, 9);
        byte[] tagged = IPv4("10.0.0.1", "10.0.0.2", Udp, 7, 9, vlan: 100);
        Assert.Equal(Hash(All, plain), Hash(All, tagged));
        Assert.Equal(NetHashReport.UdpV6, Hash(All, IPv6(Src6, Dst6, Udp, 7, 9, vlan: 4094)).Report);
    }

    [Fact]
    public void Calculate_TwoVlanTags_IsUnclassified()
    {
        byte[] inner = IPv4("10.0.0.1", "10.0.0.2", Udp, 7, 9, vlan: 100);
        byte[] doubleTagged = Ethernet(0x8100, Concat([0x00, 0x0A], inner.AsSpan(12).ToArray()));
        Assert.Equal(NetHashResult.None, Hash(All, doubleTagged));
    }

    [Fact]
    public void Calculate_TcpTruncatedByTotalLength_HashesAddressesOnly()
    {
        byte[] frame = IPv4("10.0.0.1", "10.0.0.2", Tcp, 1234, 80, payload: 0);
        frame[14 + 3] = 20 + 19;   // total length: IP header + 19 bytes, one short of a TCP header
        Assert.Equal(NetHashReport.IPv4, Hash(All, frame).Report);
        Assert.Equal(NetHashReport.TcpV4, Hash(All, IPv4("10.0.0.1", "10.0.0.2", Tcp, 1234, 80, payload: 0)).Report);
    }

    [Fact]
    public void Calculate_UdpHeaderCutByFrameEnd_HashesAddressesOnly()
    {
        byte[] frame = IPv4("10.0.0.1", "10.0.0.2", Udp, 1, 2, payload: 0);
        Assert.Equal(NetHashReport.IPv4, Hash(All, frame.AsSpan(0, frame.Length - 1).ToArray()).Report);
    }

    [Theory]
    [InlineData(0x0806)]   // ARP
    [InlineData(0x88CC)]   // LLDP
    public void Calculate_NonIpFrame_IsUnclassified(int etherType)
    {
        Assert.Equal(NetHashResult.None, Hash(All, Ethernet((ushort)etherType, new byte[46])));
    }

    [Fact]
    public void Calculate_BadIPv4Header_IsUnclassified()
    {
        byte[] frame = IPv4("10.0.0.1", "10.0.0.2", Tcp, 1, 2);
        frame[14] = 0x44;   // IHL 4 < 5
        Assert.Equal(NetHashResult.None, Hash(All, frame));
        frame[14] = 0x65;   // version 6 behind an IPv4 EtherType
        Assert.Equal(NetHashResult.None, Hash(All, frame));
        frame[14] = 0x4F;   // IHL 15: a 60-byte header fits (72 bytes of IP), but leaves no room for TCP
        Assert.Equal(NetHashReport.IPv4, Hash(All, frame).Report);
        Assert.Equal(NetHashResult.None, Hash(All, frame.AsSpan(0, 14 + 59).ToArray()));
    }

    [Fact]
    public void Calculate_NoHashTypes_IsUnclassified()
    {
        Assert.Equal(NetHashResult.None, Hash(NetHashTypes.None, IPv4("10.0.0.1", "10.0.0.2", Tcp, 1, 2)));
    }

    [Fact]
    public void Calculate_IPv6WithoutExtensionHeaders_UsesPlainIPv6Types()
    {
        Assert.Equal(Expected(NetHashReport.TcpV6, Addr(Src6), Addr(Dst6), Port(1), Port(2)), Hash(All, IPv6(Src6, Dst6, Tcp, 1, 2)));
        Assert.Equal(Expected(NetHashReport.UdpV6, Addr(Src6), Addr(Dst6), Port(3), Port(4)), Hash(All, IPv6(Src6, Dst6, Udp, 3, 4)));
        Assert.Equal(Expected(NetHashReport.IPv6, Addr(Src6), Addr(Dst6)), Hash(All, IPv6(Src6, Dst6, Icmp6)));
        Assert.Equal(NetHashReport.IPv6, Hash(NetHashTypes.IPv6 | NetHashTypes.UdpV6, IPv6(Src6, Dst6, Tcp, 1, 2)).Report);
    }

    [Fact]
    public void Calculate_IPv6WithoutExtensionHeadersOnlyExTypes_IsUnclassified()
    {
        // §5.1.6.4.3.3 (no extension header) lists only TCPv6, UDPv6, IPv6; the _EX types are for §5.1.6.4.3.4.
        Assert.Equal(NetHashResult.None, Hash(NetHashTypes.IPEx | NetHashTypes.TcpEx | NetHashTypes.UdpEx, IPv6(Src6, Dst6, Tcp, 1, 2)));
    }

    [Fact]
    public void Calculate_IPv6HopByHopTcpAllTypes_UsesTcpExWithHeaderAddresses()
    {
        byte[] frame = IPv6(Src6, Dst6, Tcp, 1, 2, [HopByHop()]);
        Assert.Equal(Expected(NetHashReport.TcpV6Ex, Addr(Src6), Addr(Dst6), Port(1), Port(2)), Hash(All, frame));
    }

    [Fact]
    public void Calculate_IPv6HomeAddressAndRoutingType2_ReplaceSourceAndDestination()
    {
        byte[] frame = IPv6(Src6, Dst6, Tcp, 1, 2, [HopByHop(), RoutingType2(Care6), DestinationOptionsWithHomeAddress(Home6)]);
        Assert.Equal(Expected(NetHashReport.TcpV6Ex, Addr(Home6), Addr(Care6), Port(1), Port(2)), Hash(All, frame));
        Assert.Equal(Expected(NetHashReport.IPv6Ex, Addr(Home6), Addr(Care6)), Hash(NetHashTypes.IPEx | NetHashTypes.UdpEx, frame));
    }

    [Fact]
    public void Calculate_IPv6HomeAddressOnly_ReplacesSourceOnly()
    {
        byte[] frame = IPv6(Src6, Dst6, Udp, 5, 6, [DestinationOptionsWithHomeAddress(Home6)]);
        Assert.Equal(Expected(NetHashReport.UdpV6Ex, Addr(Home6), Addr(Dst6), Port(5), Port(6)), Hash(All, frame));
    }

    [Fact]
    public void Calculate_IPv6RoutingHeaderNotType2_KeepsDestination()
    {
        var (type, header) = RoutingType2(Care6);
        header[2] = 0;   // type-0 routing header: not the mobility one
        byte[] frame = IPv6(Src6, Dst6, Tcp, 1, 2, [(type, header)]);
        Assert.Equal(Expected(NetHashReport.TcpV6Ex, Addr(Src6), Addr(Dst6), Port(1), Port(2)), Hash(All, frame));
    }

    [Fact]
    public void Calculate_IPv6ExtensionHeadersExTypesDisabled_SkipsHeadersForPlainTypes()
    {
        // "Else skip IPv6 extension headers and calculate the hash as defined for an IPv6 packet without
        // extension headers": the original addresses, ports found behind the headers.
        byte[] frame = IPv6(Src6, Dst6, Tcp, 1, 2, [HopByHop(), DestinationOptionsWithHomeAddress(Home6)]);
        Assert.Equal(Expected(NetHashReport.TcpV6, Addr(Src6), Addr(Dst6), Port(1), Port(2)), Hash(AllButEx, frame));
    }

    [Fact]
    public void Calculate_IPv6TcpExDisabledButIpExEnabled_PrefersIpExOverTcpV6()
    {
        // §5.1.6.4.3.4: TCP_EX, else UDP_EX, else IP_EX, and only then the plain IPv6 rules.
        byte[] frame = IPv6(Src6, Dst6, Tcp, 1, 2, [HopByHop()]);
        Assert.Equal(NetHashReport.IPv6Ex, Hash(NetHashTypes.IPEx | NetHashTypes.TcpV6, frame).Report);
    }

    [Fact]
    public void Calculate_IPv6Fragment_HashesAddressesOnly()
    {
        byte[] first = IPv6(Src6, Dst6, Tcp, 1, 2, [Fragment(0x0001)]);    // M set, offset 0
        byte[] later = IPv6(Src6, Dst6, Tcp, 1, 2, [Fragment(0x0100)]);    // offset 32
        byte[] atomic = IPv6(Src6, Dst6, Tcp, 1, 2, [Fragment(0x0000)]);   // RFC 6946 atomic fragment
        Assert.Equal(Expected(NetHashReport.IPv6Ex, Addr(Src6), Addr(Dst6)), Hash(All, first));
        Assert.Equal(Expected(NetHashReport.IPv6, Addr(Src6), Addr(Dst6)), Hash(AllButEx, later));
        Assert.Equal(NetHashReport.TcpV6Ex, Hash(All, atomic).Report);
    }

    [Fact]
    public void Calculate_TooManyExtensionHeaders_HashesAddressesOnly()
    {
        var headers = new List<(byte, byte[])>();
        for (int i = 0; i < 11; i++)
        {
            headers.Add(DestinationOptionsWithHomeAddress(Home6));
        }

        byte[] frame = IPv6(Src6, Dst6, Tcp, 1, 2, headers);
        Assert.Equal(Expected(NetHashReport.IPv6Ex, Addr(Home6), Addr(Dst6)), Hash(All, frame));
    }

    [Fact]
    public void Calculate_ExtensionHeaderLengthPastPacket_HashesAddressesOnly()
    {
        byte[] frame = IPv6(Src6, Dst6, Tcp, 1, 2, [HopByHop()]);
        frame[14 + 40 + 1] = 200;   // hop-by-hop claims 1608 bytes
        Assert.Equal(Expected(NetHashReport.IPv6Ex, Addr(Src6), Addr(Dst6)), Hash(All, frame));
    }

    [Fact]
    public void SelectHashInput_TcpV4_WritesAddressesThenPorts()
    {
        byte[] frame = IPv4("1.2.3.4", "5.6.7.8", Tcp, 0x1122, 0x3344);
        Span<byte> input = stackalloc byte[NetHashCalculator.MaxHashInputLength];
        NetHashReport report = NetHashCalculator.SelectHashInput(frame, NetHashTypes.TcpV4, input, out int length);
        Assert.Equal(NetHashReport.TcpV4, report);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x22, 0x33, 0x44 }, input.Slice(0, length).ToArray());
    }

    [Fact]
    public void SelectHashInput_ShortBuffer_Throws()
    {
        Assert.Throws<ArgumentException>(() => NetHashCalculator.SelectHashInput(new byte[64], All, new byte[35], out _));
    }

    [Fact]
    public void Calculate_ShortKey_UsesZeroExtendedKey()
    {
        byte[] frame = IPv6(Src6, Dst6, Tcp, 1, 2);
        var zeroExtended = new byte[40];
        MicrosoftKey.AsSpan(0, 16).CopyTo(zeroExtended);
        Assert.Equal(
            new NetHashCalculator(All, zeroExtended).Calculate(frame),
            new NetHashCalculator(All, MicrosoftKey.AsSpan(0, 16)).Calculate(frame));
    }
}
