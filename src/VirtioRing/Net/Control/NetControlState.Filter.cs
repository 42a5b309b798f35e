using VirtioRing.Net;
using System;
using System.Buffers.Binary;

namespace VirtioRing.Net.Control;

public sealed partial class NetControlState
{
    private const int EthernetHeaderLength = 14;
    private const int TaggedHeaderLength = 18;
    private const ushort Tpid8021Q = 0x8100;
    private const ulong BroadcastKey = 0xFFFF_FFFF_FFFFUL;
    private const ulong GroupBit = 1UL << 40;

    /// <summary>
    /// Decides whether a received Ethernet frame goes to the driver, from its destination MAC, its
    /// 802.1Q tag and the receive modes (virtio 1.2 §5.1.6.5.1–§5.1.6.5.3, applied in QEMU's order):
    /// promiscuous accepts everything; a tagged frame whose VLAN id is not in the table is dropped when
    /// <c>CTRL_VLAN</c> was negotiated (untagged frames pass); broadcast passes unless <c>NOBCAST</c>;
    /// multicast passes with <c>ALLMULTI</c> or when listed, never with <c>NOMULTI</c>; unicast passes with
    /// <c>ALLUNI</c> or when it is the primary MAC or listed, never with <c>NOUNI</c>.
    /// </summary>
    /// <param name="frame">The frame, starting at the destination MAC (no virtio-net header).</param>
    /// <returns>The verdict. Allocates nothing.</returns>
    public ReceiveVerdict Accept(ReadOnlySpan<byte> frame)
    {
        NetRxMode mode = _rxMode;
        if ((mode & NetRxMode.Promiscuous) != 0)
        {
            return ReceiveVerdict.Accept;
        }

        if (frame.Length < EthernetHeaderLength)
        {
            return ReceiveVerdict.DropRunt;
        }

        if (IsVlanFilteringEnabled && BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(12)) == Tpid8021Q)
        {
            if (frame.Length < TaggedHeaderLength)
            {
                return ReceiveVerdict.DropRunt;
            }

            int vid = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(14)) & 0xFFF;
            if ((_vlans[vid >> 6] & (1UL << vid)) == 0)
            {
                return ReceiveVerdict.DropVlan;
            }
        }

        ulong destination = MacAddress.ReadKey(frame);
        if ((destination & GroupBit) != 0)
        {
            if (destination == BroadcastKey)
            {
                // NOBCAST wins over ALLMULTI; NOMULTI does not apply to broadcast (§5.1.6.5.1).
                return (mode & NetRxMode.NoBroadcast) != 0 ? ReceiveVerdict.DropBroadcast : ReceiveVerdict.Accept;
            }

            if ((mode & NetRxMode.NoMulticast) != 0)
            {
                return ReceiveVerdict.DropMulticastSuppressed;
            }

            MacFilterTable multicast = _multicast;
            return (mode & NetRxMode.AllMulticast) != 0 || multicast.IsOverflow || multicast.ContainsKey(destination)
                ? ReceiveVerdict.Accept
                : ReceiveVerdict.DropMulticastNotListed;
        }

        if ((mode & NetRxMode.NoUnicast) != 0)
        {
            return ReceiveVerdict.DropUnicastSuppressed;
        }

        MacFilterTable unicast = _unicast;
        return (mode & NetRxMode.AllUnicast) != 0 || destination == _primaryMac || unicast.IsOverflow || unicast.ContainsKey(destination)
            ? ReceiveVerdict.Accept
            : ReceiveVerdict.DropUnicastNotListed;
    }
}
