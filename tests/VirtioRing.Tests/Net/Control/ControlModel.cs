using System;
using System.Collections.Generic;
using System.Linq;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using VirtioRing.Net.Multiqueue;
using Xunit;

namespace VirtioRing.Tests.Net.Control;

/// <summary>
/// A reference decoder for control commands, written from the spec text (§5.1.6.5) in a plain
/// cursor style with mutable collections, independent of the handler's code. Apply returns whether
/// the command is valid and, if so, applies it.
/// </summary>
internal sealed class ControlModel
{
    private readonly NetFeatures _f;
    private readonly NetControlLimits _limits;

    public ControlModel(NetFeatures features, NetControlLimits limits)
    {
        _f = features;
        _limits = limits;
        Primary = limits.Mac.Value;
        PerQueue = new (uint, uint)[2 * limits.MaxQueuePairs];
        Offloads = (ulong)features & 0x00C0_C000_0000_0782UL;
    }

    public NetRxMode Mode { get; private set; } = NetRxMode.Promiscuous;

    public ulong Primary { get; private set; }

    public List<ulong> Unicast { get; private set; } = new();

    public List<ulong> Multicast { get; private set; } = new();

    public bool UnicastOverflow { get; private set; }

    public bool MulticastOverflow { get; private set; }

    public HashSet<int> Vlans { get; } = new();

    public int Pairs { get; private set; } = 1;

    public bool RssOn { get; private set; }

    public uint RssTypes { get; private set; }

    public ushort[] RssTable { get; private set; } = Array.Empty<ushort>();

    public ushort RssUnclassified { get; private set; }

    public byte[] RssKey { get; private set; } = Array.Empty<byte>();

    public uint HashTypes { get; private set; }

    public byte[] HashKey { get; private set; } = Array.Empty<byte>();

    public ulong Offloads { get; private set; }

    public (uint P, uint U) Tx { get; private set; }

    public (uint P, uint U) Rx { get; private set; }

    public (uint P, uint U)[] PerQueue { get; private set; }

    public bool Announce { get; set; }

    private bool Has(NetFeatures f) => (_f & f) == f;

    private bool Enabled(int vq, int pairs, bool rss) =>
        vq >= 0 && vq < PerQueue.Length && ((vq / 2) < pairs || (vq % 2 == 0 && rss));

    private void ChangeQueues(int pairs, bool rss)
    {
        for (int vq = 0; vq < PerQueue.Length; vq++)
        {
            if (Enabled(vq, Pairs, RssOn) && !Enabled(vq, pairs, rss))
            {
                PerQueue[vq] = vq % 2 == 0 ? Rx : Tx;
            }
        }

        Pairs = pairs;
        RssOn = rss;
    }

    public bool Apply(byte[] cmd, int responseLength, out byte[]? result)
    {
        result = null;
        if (responseLength == 0 || cmd.Length < 2 || !Has(NetFeatures.CtrlVq))
        {
            return false;
        }

        int c = cmd[0], k = cmd[1];
        byte[] d = cmd.Skip(2).ToArray();
        uint U32(int at) => (uint)(d[at] | (d[at + 1] << 8) | (d[at + 2] << 16) | (d[at + 3] << 24));
        int U16(int at) => d[at] | (d[at + 1] << 8);

        switch (c, k)
        {
            case (0, <= 5):
                if (!Has(k <= 1 ? NetFeatures.CtrlRx : NetFeatures.CtrlRxExtra) || d.Length != 1 || d[0] > 1)
                {
                    return false;
                }

                Mode = d[0] == 1 ? Mode | (NetRxMode)(1 << k) : Mode & ~(NetRxMode)(1 << k);
                return true;

            case (1, 0):
            {
                if (!Has(NetFeatures.CtrlRx) || d.Length < 4)
                {
                    return false;
                }

                long n1 = U32(0);
                long at = 4 + (6 * n1);
                if (at + 4 > d.Length)
                {
                    return false;
                }

                long n2 = U32((int)at);
                if (at + 4 + (6 * n2) != d.Length)
                {
                    return false;
                }

                List<ulong> Read(long from, long n) =>
                    Enumerable.Range(0, (int)n).Select(i => ReadMac(d, (int)(from + (6 * i)))).Distinct().OrderBy(x => x).ToList();

                UnicastOverflow = n1 > _limits.MaxMacTableEntries;
                MulticastOverflow = n2 > _limits.MaxMacTableEntries;
                Unicast = UnicastOverflow ? new List<ulong>() : Read(4, n1);
                Multicast = MulticastOverflow ? new List<ulong>() : Read(at + 4, n2);
                return true;
            }

            case (1, 1):
                if ((!Has(NetFeatures.CtrlRx) && !Has(NetFeatures.CtrlMacAddr)) || d.Length != 6)
                {
                    return false;
                }

                Primary = ReadMac(d, 0);
                return true;

            case (2, <= 1):
            {
                if (!Has(NetFeatures.CtrlVlan) || d.Length != 2 || U16(0) > 4095)
                {
                    return false;
                }

                if (k == 0)
                {
                    Vlans.Add(U16(0));
                }
                else
                {
                    Vlans.Remove(U16(0));
                }

                return true;
            }

            case (3, 0):
                if (!Has(NetFeatures.GuestAnnounce) || d.Length != 0 || !Announce)
                {
                    return false;
                }

                Announce = false;
                return true;

            case (4, 0):
                if (!Has(NetFeatures.Mq) || d.Length != 2 || U16(0) < 1 || U16(0) > _limits.MaxQueuePairs)
                {
                    return false;
                }

                ChangeQueues(U16(0), rss: false);
                return true;

            case (4, 1):
            {
                if (!Has(NetFeatures.Rss) || d.Length < 8)
                {
                    return false;
                }

                int entries = U16(4) + 1;
                if (!IsPow2(entries) || entries > _limits.RssMaxIndirectionTableLength || d.Length < 8 + (2 * entries) + 3)
                {
                    return false;
                }

                int end = 8 + (2 * entries);
                int keyLength = d[end + 2];
                if (d.Length != end + 3 + keyLength)
                {
                    return false;
                }

                ushort[] table = Enumerable.Range(0, entries).Select(i => (ushort)U16(8 + (2 * i))).ToArray();
                int maxTx = U16(end);
                if (!HashOk(U32(0), keyLength) || U16(6) >= _limits.MaxQueuePairs || table.Any(q => q >= _limits.MaxQueuePairs) ||
                    maxTx < 1 || maxTx > _limits.MaxQueuePairs)
                {
                    return false;
                }

                RssTypes = U32(0);
                RssTable = table;
                RssUnclassified = (ushort)U16(6);
                RssKey = d.Skip(end + 3).ToArray();
                ChangeQueues(maxTx, rss: true);
                return true;
            }

            case (4, 2):
                if (!Has(NetFeatures.HashReport) || d.Length < 13 || d.Length != 13 + d[12] || !HashOk(U32(0), d[12]))
                {
                    return false;
                }

                HashTypes = U32(0);
                HashKey = d.Skip(13).ToArray();
                ChangeQueues(Pairs, rss: false);
                return true;

            case (5, 0):
            {
                if (!Has(NetFeatures.CtrlGuestOffloads) || d.Length != 8)
                {
                    return false;
                }

                ulong v = U32(0) | ((ulong)U32(4) << 32);
                ulong allowed = (ulong)_f & 0x00C0_C000_0000_0782UL; // GUEST_CSUM, TSO4, TSO6, ECN, UFO, 46, 47, USO4, USO6
                if ((v & ~allowed) != 0)
                {
                    return false;
                }

                Offloads = v;
                return true;
            }

            case (6, <= 1):
                if (!Has(NetFeatures.NotfCoal) || d.Length != 8)
                {
                    return false;
                }

                if (k == 0)
                {
                    Tx = (U32(0), U32(4));
                }
                else
                {
                    Rx = (U32(0), U32(4));
                }

                for (int vq = k == 0 ? 1 : 0; vq < PerQueue.Length; vq += 2)
                {
                    PerQueue[vq] = (U32(0), U32(4));
                }

                return true;

            case (6, 2):
                if (!Has(NetFeatures.VqNotfCoal) || d.Length != 12 || !Enabled(U16(0), Pairs, RssOn))
                {
                    return false;
                }

                PerQueue[U16(0)] = (U32(4), U32(8));
                return true;

            case (6, 3):
                if (!Has(NetFeatures.VqNotfCoal) || d.Length != 4 || !Enabled(U16(0), Pairs, RssOn) || responseLength < 9)
                {
                    return false;
                }

                (uint p, uint u) = PerQueue[U16(0)];
                result = BitConverter.GetBytes(p).Concat(BitConverter.GetBytes(u)).ToArray();
                return true;

            default:
                return false;
        }
    }

    public void AssertMatches(NetControlState s)
    {
        Assert.Equal(Mode, s.RxMode);
        Assert.Equal(Primary, s.PrimaryMac.Value);
        Assert.Equal(Unicast, s.UnicastFilter.Select(m => m.Value).ToList());
        Assert.Equal(Multicast, s.MulticastFilter.Select(m => m.Value).ToList());
        Assert.Equal(UnicastOverflow, s.UnicastFilter.IsOverflow);
        Assert.Equal(MulticastOverflow, s.MulticastFilter.IsOverflow);
        Assert.Equal(Vlans.Count, s.CountVlans());
        Assert.All(Vlans, v => Assert.True(s.ContainsVlan(v)));
        Assert.Equal(Pairs, s.ActiveQueuePairs);
        Assert.Equal(RssOn ? ReceiveSteering.Rss : ReceiveSteering.Automatic, s.Steering);
        if (RssOn)
        {
            Assert.NotNull(s.Rss);
            Assert.Equal(RssTypes, (uint)s.HashTypes);
            Assert.Equal(RssTable, s.Rss!.IndirectionTable.ToArray());
            Assert.Equal(RssUnclassified, s.Rss.UnclassifiedQueue);
            Assert.Equal(RssKey, s.HashKey.ToArray());
        }
        else
        {
            Assert.Null(s.Rss);
            Assert.Equal(HashTypes, (uint)s.HashTypes);
            Assert.Equal(HashKey, s.HashKey.ToArray());
        }

        Assert.Equal(Offloads, (ulong)s.GuestOffloads);
        Assert.Equal(new NotificationCoalescing(Tx.P, Tx.U), s.TxCoalescing);
        Assert.Equal(new NotificationCoalescing(Rx.P, Rx.U), s.RxCoalescing);
        bool coalescing = (_f & (NetFeatures.NotfCoal | NetFeatures.VqNotfCoal)) != 0;
        for (int vq = 0; vq < PerQueue.Length; vq++)
        {
            (uint p, uint u) = coalescing ? PerQueue[vq] : (0u, 0u);
            Assert.Equal(new NotificationCoalescing(p, u), s.GetQueueCoalescing(vq));
        }

        Assert.Equal(Announce, s.AnnouncePending);
    }

    private bool HashOk(uint types, int keyLength) =>
        (types & ~(uint)_limits.SupportedHashTypes) == 0 && keyLength <= _limits.RssMaxKeySize && (keyLength > 0 || types == 0);

    private static bool IsPow2(int n) => n > 0 && (n & (n - 1)) == 0;

    private static ulong ReadMac(byte[] d, int at)
    {
        ulong v = 0;
        for (int i = 0; i < 6; i++)
        {
            v = (v << 8) | d[at + i];
        }

        return v;
    }
}
