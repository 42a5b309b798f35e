using System;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using Xunit;

namespace VirtioRing.Tests.Net.Control;

/// <summary>
/// The receive filter's truth table over modes × destination kinds × VLAN (virtio 1.2 §5.1.6.5.1–§5.1.6.5.3,
/// in QEMU's receive_filter order).
/// </summary>
public class ReceiveFilterTests
{
    private static readonly MacAddress Listed = MacAddress.Parse("02:00:00:00:00:aa");
    private static readonly MacAddress Other = MacAddress.Parse("02:00:00:00:00:bb");
    private static readonly MacAddress ListedGroup = MacAddress.Parse("01:00:5e:00:00:01");
    private static readonly MacAddress OtherGroup = MacAddress.Parse("01:00:5e:00:00:02");

    public enum Dest
    {
        Primary,
        ListedUnicast,
        OtherUnicast,
        ListedMulticast,
        OtherMulticast,
        Broadcast,
    }

    private static NetControlHandler Filtered(NetRxMode mode, NetFeatures features = ControlRig.AllControl)
    {
        NetControlHandler h = ControlRig.Handler(features);
        var buffer = new byte[256];
        Assert.Equal(ControlAck.Ok, h.Handle(buffer.AsSpan(0, NetControlEncoder.WriteMacTable(buffer, new[] { Listed }, new[] { ListedGroup })), new byte[1]).Ack);
        for (int bit = 0; bit < 6; bit++)
        {
            var flag = (NetRxMode)(1 << bit);
            int n = NetControlEncoder.WriteRxMode(buffer, flag, (mode & flag) != 0);
            Assert.Equal(ControlAck.Ok, h.Handle(buffer.AsSpan(0, n), new byte[1]).Ack);
        }

        Assert.Equal(mode, h.State.RxMode);
        return h;
    }

    private static byte[] Frame(MacAddress destination, int? vlan = null, int length = 64)
    {
        var f = new byte[length];
        destination.WriteTo(f);
        ControlRig.DeviceMac.WriteTo(f.AsSpan(6));
        if (vlan is int v)
        {
            f[12] = 0x81;
            f[13] = 0x00;
            f[14] = (byte)(v >> 8);
            f[15] = (byte)v;
            f[16] = 0x08;
        }
        else
        {
            f[12] = 0x08;
        }

        return f;
    }

    private static MacAddress Address(Dest d) => d switch
    {
        Dest.Primary => ControlRig.DeviceMac,
        Dest.ListedUnicast => Listed,
        Dest.OtherUnicast => Other,
        Dest.ListedMulticast => ListedGroup,
        Dest.OtherMulticast => OtherGroup,
        _ => MacAddress.Broadcast,
    };

    /// <summary>The expected verdict, written from the spec's sentences rather than from the code.</summary>
    private static ReceiveVerdict Expected(NetRxMode m, Dest d)
    {
        bool has(NetRxMode f) => (m & f) != 0;
        if (has(NetRxMode.Promiscuous))
        {
            return ReceiveVerdict.Accept;
        }

        switch (d)
        {
            case Dest.Broadcast:
                return has(NetRxMode.NoBroadcast) ? ReceiveVerdict.DropBroadcast : ReceiveVerdict.Accept;
            case Dest.ListedMulticast:
            case Dest.OtherMulticast:
                if (has(NetRxMode.NoMulticast))
                {
                    return ReceiveVerdict.DropMulticastSuppressed;
                }

                return has(NetRxMode.AllMulticast) || d == Dest.ListedMulticast ? ReceiveVerdict.Accept : ReceiveVerdict.DropMulticastNotListed;
            default:
                if (has(NetRxMode.NoUnicast))
                {
                    return ReceiveVerdict.DropUnicastSuppressed;
                }

                return has(NetRxMode.AllUnicast) || d != Dest.OtherUnicast ? ReceiveVerdict.Accept : ReceiveVerdict.DropUnicastNotListed;
        }
    }

    public static TheoryData<int, Dest> AllModesAndKinds()
    {
        var data = new TheoryData<int, Dest>();
        for (int mode = 0; mode < 64; mode++)
        {
            foreach (Dest d in Enum.GetValues<Dest>())
            {
                data.Add(mode, d);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllModesAndKinds))]
    public void Accept_EveryModeAndDestinationKind_MatchesSpec(int mode, Dest destination)
    {
        NetControlState s = Filtered((NetRxMode)mode).State;
        Assert.Equal(Expected((NetRxMode)mode, destination), s.Accept(Frame(Address(destination))));
    }

    [Theory]
    [InlineData(true, 10, null, ReceiveVerdict.Accept)]   // untagged passes
    [InlineData(true, 10, 10, ReceiveVerdict.Accept)]     // tagged, listed
    [InlineData(true, 10, 11, ReceiveVerdict.DropVlan)]   // tagged, not listed
    [InlineData(true, 10, 0x300A, ReceiveVerdict.Accept)] // PCP/DEI bits are not part of the id
    [InlineData(false, -1, 11, ReceiveVerdict.Accept)]    // without CTRL_VLAN every tag passes
    public void Accept_VlanTag_FilteredOnlyWithCtrlVlan(bool ctrlVlan, int listedVid, int? frameVid, ReceiveVerdict expected)
    {
        NetFeatures features = ctrlVlan ? ControlRig.AllControl : ControlRig.AllControl & ~NetFeatures.CtrlVlan;
        NetControlHandler h = Filtered(NetRxMode.None, features);
        if (listedVid >= 0)
        {
            var b = new byte[4];
            Assert.Equal(ControlAck.Ok, h.Handle(b.AsSpan(0, NetControlEncoder.WriteVlan(b, true, (ushort)listedVid)), new byte[1]).Ack);
        }

        Assert.Equal(expected, h.State.Accept(Frame(ControlRig.DeviceMac, frameVid)));
    }

    [Fact]
    public void Accept_VlanFilterStillAppliesToBroadcast_ButNotInPromiscuous()
    {
        NetControlState s = Filtered(NetRxMode.None).State;
        Assert.Equal(ReceiveVerdict.DropVlan, s.Accept(Frame(MacAddress.Broadcast, 5)));
        Assert.Equal(ReceiveVerdict.Accept, Filtered(NetRxMode.Promiscuous).State.Accept(Frame(MacAddress.Broadcast, 5)));
    }

    [Fact]
    public void Accept_RuntFrames_Dropped()
    {
        NetControlState s = Filtered(NetRxMode.None).State;
        Assert.Equal(ReceiveVerdict.DropRunt, s.Accept(Frame(ControlRig.DeviceMac).AsSpan(0, 13)));
        Assert.Equal(ReceiveVerdict.DropRunt, s.Accept(Frame(ControlRig.DeviceMac, vlan: 1).AsSpan(0, 17)));
        Assert.Equal(ReceiveVerdict.DropRunt, s.Accept(ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void Accept_OverflowedTables_AcceptTheirKind()
    {
        NetControlHandler h = ControlRig.Handler(macEntries: 1);
        var b = new byte[256];
        int n = NetControlEncoder.WriteRxMode(b, NetRxMode.Promiscuous, false);
        h.Handle(b.AsSpan(0, n), new byte[1]);
        n = NetControlEncoder.WriteMacTable(b, new[] { Listed, Other }, new[] { ListedGroup });
        Assert.Equal(ControlAck.Ok, h.Handle(b.AsSpan(0, n), new byte[1]).Ack);
        NetControlState s = h.State;
        Assert.Equal(ReceiveVerdict.Accept, s.Accept(Frame(MacAddress.Parse("02:12:34:56:78:9a"))));
        Assert.Equal(ReceiveVerdict.DropMulticastNotListed, s.Accept(Frame(OtherGroup)));
    }

    [Fact]
    public void Accept_LargeTable_FindsEveryListedAddressByBinarySearch()
    {
        NetControlHandler h = ControlRig.Handler(macEntries: 64);
        var list = new MacAddress[64];
        for (int i = 0; i < list.Length; i++)
        {
            list[i] = new MacAddress(0x0200_0000_0000UL + (ulong)(i * 7919));
        }

        var b = new byte[1024];
        h.Handle(b.AsSpan(0, NetControlEncoder.WriteRxMode(b, NetRxMode.Promiscuous, false)), new byte[1]);
        Assert.Equal(ControlAck.Ok, h.Handle(b.AsSpan(0, NetControlEncoder.WriteMacTable(b, list, default)), new byte[1]).Ack);
        NetControlState s = h.State;
        foreach (MacAddress mac in list)
        {
            Assert.Equal(ReceiveVerdict.Accept, s.Accept(Frame(mac)));
            Assert.Equal(ReceiveVerdict.DropUnicastNotListed, s.Accept(Frame(new MacAddress(mac.Value + 1))));
        }
    }

    [Fact]
    public void Accept_AfterReset_IsPromiscuousAsQemu() =>
        Assert.Equal(ReceiveVerdict.Accept, ControlRig.Handler().State.Accept(Frame(Other)));
}
