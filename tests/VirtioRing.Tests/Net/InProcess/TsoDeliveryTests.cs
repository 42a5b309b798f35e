using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using VirtioRing.Net;
using VirtioRing.Net.Driver;
using Xunit;

namespace VirtioRing.Tests.Net.InProcess;

/// <summary>
/// Offloads between guests (issue 4): a 64 KiB TCP super-frame (<c>NEEDS_CSUM</c>, <c>GSO_TCPV4</c>/<c>GSO_TCPV6</c>) from a
/// guest that negotiated <c>HOST_TSO*</c> reaches a peer without <c>GUEST_TSO*</c> as valid segments (every IPv4 header and TCP
/// checksum verifies, sequence numbers continue, the payload reassembles exactly), and a TSO-capable peer as the one frame
/// with its GSO header. The checks here are written independently of the library's segmentation code (RFC 1071 sums).
/// </summary>
public class TsoDeliveryTests
{
    private const int Sender = 0;
    private const int PlainPeer = 1;      // no GUEST_TSO4/6, no GUEST_USO
    private const int TsoPeer = 2;        // default features (GUEST_TSO4/6, GUEST_CSUM)
    private const uint FirstSequence = 0xFFFF_F000;   // wraps inside the super-frame
    private const ushort FirstIPv4Id = 0xFFFE;        // wraps too

    [Theory]
    [InlineData(false, false, true)]
    [InlineData(false, false, false)]
    [InlineData(false, true, true)]
    [InlineData(false, true, false)]
    [InlineData(true, false, true)]
    [InlineData(true, false, false)]
    [InlineData(true, true, true)]
    [InlineData(true, true, false)]
    public void Send_TsoSuperFrame_PlainPeerGetsValidSegmentsAndTsoPeerGetsOneFrame(bool packed, bool ipv6, bool plainPeerHasGuestCsum)
    {
        NetFeatures plain = NetDriverOptions.DefaultFeatures & ~(NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.GuestUso4 | NetFeatures.GuestUso6 | NetFeatures.GuestEcn | NetFeatures.GuestUfo);
        if (!plainPeerHasGuestCsum)
        {
            plain &= ~NetFeatures.GuestCsum;
        }

        using var lan = new GuestLan(3, i =>
        {
            var o = GuestLan.Options(i, packed, pairs: 1);
            return i == PlainPeer ? new VirtioRing.Net.InProcess.InProcessGuestOptions
            {
                Mac = o.Mac, Packed = o.Packed, QueuePairs = 1, WorkerMode = o.WorkerMode, Name = o.Name, DriverFeatures = plain,
            } : o;
        });
        Assert.Equal(NetFeatures.None, lan[PlainPeer].NegotiatedFeatures & (NetFeatures.GuestTso4 | NetFeatures.GuestTso6));
        Assert.Equal(plainPeerHasGuestCsum, (lan[PlainPeer].NegotiatedFeatures & NetFeatures.GuestCsum) != 0);
        Assert.NotEqual(NetFeatures.None, lan[Sender].NegotiatedFeatures & (ipv6 ? NetFeatures.HostTso6 : NetFeatures.HostTso4));
        Assert.NotEqual(NetFeatures.None, lan[TsoPeer].NegotiatedFeatures & (ipv6 ? NetFeatures.GuestTso6 : NetFeatures.GuestTso4));
        Learn(lan);

        int mss = ipv6 ? 1428 : 1448;
        int payloadLength = ipv6 ? 65535 - 20 : 65535 - 40;   // the largest IP packet: a 64 KiB super-frame
        byte[] payload = new byte[payloadLength];
        new Random(payloadLength).NextBytes(payload);

        foreach (int peer in new[] { PlainPeer, TsoPeer })
        {
            byte[] frame = BuildSuperFrame(GuestLan.HomeMac(peer), GuestLan.HomeMac(Sender), ipv6, payload, out VirtioNetHeader header, mss);
            Assert.True(lan[Sender].Driver.TrySend(frame, header));
            lan.PollAll();
            List<ReceivedFrame> got = lan.Drain(peer);
            Assert.Empty(lan.Drain(3 - peer));

            if (peer == PlainPeer)
            {
                CheckSegments(got, ipv6, payload, mss, plainPeerHasGuestCsum);
            }
            else
            {
                ReceivedFrame whole = Assert.Single(got);
                Assert.True(frame.AsSpan().SequenceEqual(whole.Bytes), "the TSO peer must get the super-frame unchanged");
                Assert.Equal(ipv6 ? NetGsoType.TcpV6 : NetGsoType.TcpV4, whole.Header.GsoType);
                Assert.Equal(mss, whole.Header.GsoSize);
                Assert.Equal(NetHeaderFlags.NeedsChecksum, whole.Header.Flags & NetHeaderFlags.NeedsChecksum);
                Assert.Equal(header.ChecksumStart, whole.Header.ChecksumStart);
                Assert.Equal(header.ChecksumOffset, whole.Header.ChecksumOffset);

                // What the receiving guest's stack would do with NEEDS_CSUM: sum from csum_start, store at csum_offset.
                byte[] completed = (byte[])whole.Bytes.Clone();
                int start = whole.Header.ChecksumStart;
                ushort c = Checksums.Compute(completed.AsSpan(start));
                BinaryPrimitives.WriteUInt16BigEndian(completed.AsSpan(start + whole.Header.ChecksumOffset), c);
                Assert.True(Checksums.Verifies(completed.AsSpan(start), PseudoHeader(completed, ipv6, completed.Length - start)), "the completed TCP checksum must verify");
            }
        }

        Assert.Equal(0, lan.Ports[PlainPeer].GetCounters().DroppedBadFrame);
        Assert.Equal(0, lan[PlainPeer].Device.GetCounters(0).TotalDrops);
    }

    /// <summary>Learns all three addresses (a broadcast from each) and empties every receive queue.</summary>
    private static void Learn(GuestLan lan)
    {
        for (int g = 0; g < lan.Guests.Length; g++)
        {
            Assert.True(lan[g].Driver.TrySend(TestFrames.Build(MacAddress.Broadcast, GuestLan.HomeMac(g), 60, -1), default));
            lan.PollAll();
        }

        for (int g = 0; g < lan.Guests.Length; g++)
        {
            lan.Drain(g);
        }
    }

    /// <summary>Ethernet + IPv4 (or IPv6) + TCP (ACK|PSH) + payload; the TCP checksum field holds the pseudo-header sum (<c>NEEDS_CSUM</c>, as Linux's CHECKSUM_PARTIAL).</summary>
    private static byte[] BuildSuperFrame(MacAddress destination, MacAddress source, bool ipv6, byte[] payload, out VirtioNetHeader header, int mss)
    {
        int l3 = 14;
        int l4 = l3 + (ipv6 ? 40 : 20);
        int data = l4 + 20;
        var f = new byte[data + payload.Length];
        destination.WriteTo(f);
        source.WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), ipv6 ? (ushort)0x86DD : (ushort)0x0800);
        Span<byte> ip = f.AsSpan(l3, l4 - l3);
        if (ipv6)
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), (ushort)(f.Length - l4));
            ip[6] = 6;
            ip[7] = 64;
            ip[8] = 0xFD;
            ip[23] = 1;
            ip[24] = 0xFD;
            ip[39] = 2;
        }
        else
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(2), (ushort)(f.Length - l3));
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(4), FirstIPv4Id);
            ip[6] = 0x40;   // DF
            ip[8] = 64;
            ip[9] = 6;
            ip[12] = 10;
            ip[15] = 1;
            ip[16] = 10;
            ip[19] = 2;
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(10), Checksums.Compute(ip));
        }

        Span<byte> tcp = f.AsSpan(l4, 20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(2), 5201);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.Slice(4), FirstSequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.Slice(8), 1);
        tcp[12] = 0x50;
        tcp[13] = 0x18;   // ACK | PSH
        BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(14), 0xFFFF);
        payload.CopyTo(f.AsSpan(data));
        BinaryPrimitives.WriteUInt16BigEndian(tcp.Slice(16), Checksums.Fold(PseudoHeader(f, ipv6, f.Length - l4)));

        header = new VirtioNetHeader
        {
            Flags = NetHeaderFlags.NeedsChecksum,
            GsoType = ipv6 ? NetGsoType.TcpV6 : NetGsoType.TcpV4,
            GsoSize = (ushort)mss,
            HeaderLength = (ushort)data,
            ChecksumStart = (ushort)l4,
            ChecksumOffset = 16,
        };
        return f;
    }

    /// <summary>The TCP pseudo-header sum (RFC 793 / RFC 8200 §8.1) of a frame's addresses for a TCP length.</summary>
    private static uint PseudoHeader(ReadOnlySpan<byte> frame, bool ipv6, int tcpLength)
    {
        uint sum = ipv6 ? Checksums.Sum(frame.Slice(14 + 8, 32)) : Checksums.Sum(frame.Slice(14 + 12, 8));
        return sum + 6 + (uint)tcpLength;
    }

    private static void CheckSegments(List<ReceivedFrame> segments, bool ipv6, byte[] payload, int mss, bool guestCsum)
    {
        int l4 = ipv6 ? 54 : 34;
        int data = l4 + 20;
        Assert.Equal((payload.Length + mss - 1) / mss, segments.Count);
        int offset = 0;
        for (int i = 0; i < segments.Count; i++)
        {
            byte[] s = segments[i].Bytes;
            VirtioNetHeader h = segments[i].Header;
            string at = $"segment {i}";
            Assert.Equal(NetGsoType.None, h.GsoType);
            Assert.Equal(guestCsum ? h.Flags & NetHeaderFlags.DataValid : NetHeaderFlags.None, h.Flags);
            int chunk = Math.Min(mss, payload.Length - offset);
            Assert.Equal(data + chunk, s.Length);

            // Layer 2 and 3.
            Assert.Equal(ipv6 ? 0x86DD : 0x0800, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(12)));
            if (ipv6)
            {
                Assert.Equal(0x60, s[14] & 0xF0);
                Assert.Equal(20 + chunk, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(18)));
                Assert.Equal(6, s[20]);
            }
            else
            {
                Assert.Equal(0x45, s[14]);
                Assert.Equal(40 + chunk, BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(16)));
                Assert.Equal((ushort)(FirstIPv4Id + i), BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(18)));
                Assert.Equal(6, s[23]);
                Assert.True(Checksums.Verifies(s.AsSpan(14, 20)), at + ": IPv4 header checksum");
            }

            // Layer 4.
            Assert.Equal(unchecked(FirstSequence + (uint)offset), BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(l4 + 4)));
            Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(l4 + 8)));
            byte flags = s[l4 + 13];
            Assert.Equal(i == segments.Count - 1 ? 0x18 : 0x10, flags);   // PSH on the last segment only
            Assert.True(Checksums.Verifies(s.AsSpan(l4), PseudoHeader(s, ipv6, s.Length - l4)), at + ": TCP checksum");

            Assert.True(payload.AsSpan(offset, chunk).SequenceEqual(s.AsSpan(data)), at + ": payload");
            offset += chunk;
        }

        Assert.Equal(payload.Length, offset);
    }
}
