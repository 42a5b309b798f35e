using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Net.Offload;
using Xunit;

namespace VirtioRing.Tests.Net.Offload;

public class SoftwareSegmentationTests
{
    /// <summary>Collects each segment into its own array (tests only; the benchmark uses an allocation-free struct sink).</summary>
    private sealed class ListSink(int limit = int.MaxValue) : ISegmentSink
    {
        private byte[] _current = [];

        public List<byte[]> Segments { get; } = [];

        public Span<byte> GetBuffer(int index, int length)
        {
            Assert.Equal(Segments.Count, index);
            _current = index < limit ? new byte[length] : [];
            return _current;
        }

        public void Complete(int index, int length)
        {
            Assert.Equal(_current.Length, length);
            Segments.Add(_current);
        }
    }

    internal sealed record GsoCase(PacketSpec Spec, SegmentationKind Kind, ushort SegmentSize);

    private static Gen<GsoCase> Cases(SegmentationKind kind) =>
        from v6 in kind switch
        {
            SegmentationKind.TcpV4 => Gen.Constant(false),
            SegmentationKind.TcpV6 => Gen.Constant(true),
            _ => Gen.Elements(false, true),
        }
        from payload in Gen.OneOf(Gen.Choose(0, 4000), Gen.Choose(0, 65000))
        from mss in Gen.OneOf(Gen.Choose(64, 2000), Gen.Choose(8, 9000), Gen.Elements(1448, 1460, 1440, 8948))
        from vlans in Gen.Choose(0, 2)
        from ipOptions in Gen.Choose(0, 10)
        from tcpOptions in Gen.Choose(0, 10)
        from hbh in Gen.Elements(0, 0, 8)
        from flags in Gen.Choose(0, 255)
        from seq in Gen.Choose(int.MinValue, int.MaxValue)
        from id in Gen.Choose(0, 65535)
        from seed in Gen.Choose(0, int.MaxValue)
        let tcp = kind is SegmentationKind.TcpV4 or SegmentationKind.TcpV6
        let spec = new PacketSpec(v6, tcp, payload, vlans, v6 ? 0 : ipOptions, tcp ? tcpOptions : 0, (byte)(flags & ~0x06),
            unchecked((uint)seq), (ushort)id, v6 && kind != SegmentationKind.Udp ? hbh : 0, ChecksumFill.Partial, seed)
        select new GsoCase(spec, kind, (ushort)mss);

    [Property(MaxTest = 1000)]
    public Property TrySegment_Tso4_SegmentsVerifyAndReassemble() => Prop.ForAll(Arb.From(Cases(SegmentationKind.TcpV4)), CheckSegments);

    [Property(MaxTest = 1000)]
    public Property TrySegment_Tso6_SegmentsVerifyAndReassemble() => Prop.ForAll(Arb.From(Cases(SegmentationKind.TcpV6)), CheckSegments);

    [Property(MaxTest = 1000)]
    public Property TrySegment_Uso_SegmentsVerifyAndReassemble() => Prop.ForAll(Arb.From(Cases(SegmentationKind.UdpL4)), CheckSegments);

    [Property(MaxTest = 1000)]
    public Property TrySegment_Ufo_FragmentsVerifyAndReassemble() => Prop.ForAll(Arb.From(Cases(SegmentationKind.Udp)), CheckFragments);

    private static void CheckSegments(GsoCase c)
    {
        PacketSpec s = c.Spec;
        byte[] frame = Packets.Build(s);
        int l3 = Packets.L3Offset(s), l4 = Packets.L4Offset(s), header = Packets.HeaderLength(s);
        int payload = frame.Length - header;
        var request = new SegmentationRequest(c.Kind, c.SegmentSize, (ushort)header, headerLengthIsExact: true);
        var sink = new ListSink();
        Assert.Equal(OffloadError.None, SoftwareSegmentation.TrySegment(frame, request, ref sink, out int count));
        Assert.Equal(OffloadError.None, SoftwareSegmentation.TryPlan(frame, request, out SegmentationPlan plan));

        int expectedCount = payload == 0 ? 1 : (payload + c.SegmentSize - 1) / c.SegmentSize;
        Assert.Equal(expectedCount, count);
        Assert.Equal(expectedCount, plan.SegmentCount);
        Assert.Equal(expectedCount, sink.Segments.Count);

        int mtu = header - l3 + c.SegmentSize;   // the L3 MTU the driver's gso_size was chosen for
        var reassembled = new List<byte>(payload);
        long total = 0;
        byte originalFlags = s.Tcp ? frame[l4 + 13] : (byte)0;
        for (int i = 0; i < count; i++)
        {
            byte[] seg = sink.Segments[i];
            bool first = i == 0, last = i == count - 1;
            total += seg.Length;
            Assert.True(seg.Length - l3 <= mtu, "segment exceeds the MTU");
            Assert.True(seg.Length <= plan.MaxSegmentLength);
            Assert.Equal(frame.AsSpan(0, l3).ToArray(), seg.AsSpan(0, l3).ToArray());
            if (!last)
            {
                Assert.Equal(c.SegmentSize, seg.Length - header);
            }

            if (s.IPv6)
            {
                Assert.Equal(seg.Length - l3 - 40, BinaryPrimitives.ReadUInt16BigEndian(seg.AsSpan(l3 + 4)));
            }
            else
            {
                Assert.Equal(seg.Length - l3, BinaryPrimitives.ReadUInt16BigEndian(seg.AsSpan(l3 + 2)));
                Assert.Equal(unchecked((ushort)(s.IPv4Id + i)), BinaryPrimitives.ReadUInt16BigEndian(seg.AsSpan(l3 + 4)));
                Assert.Equal(0x40, seg[l3 + 6]);   // DF kept
                Assert.Equal(0xFFFF, Packets.Naive(seg.AsSpan(l3, l4 - l3)));
            }

            if (s.Tcp)
            {
                Assert.Equal(unchecked(s.Sequence + (uint)reassembled.Count), BinaryPrimitives.ReadUInt32BigEndian(seg.AsSpan(l4 + 4)));
                byte expectedFlags = originalFlags;
                if (!last)
                {
                    expectedFlags &= unchecked((byte)~0x09);   // FIN, PSH only on the last
                }

                if (!first)
                {
                    expectedFlags &= unchecked((byte)~0x80);   // CWR only on the first
                }

                Assert.Equal(expectedFlags, seg[l4 + 13]);
                Assert.Equal(frame.AsSpan(l4 + 8, 5).ToArray(), seg.AsSpan(l4 + 8, 5).ToArray());                         // ack, data offset
                Assert.Equal(frame.AsSpan(l4 + 14, 2).ToArray(), seg.AsSpan(l4 + 14, 2).ToArray());                       // window
                Assert.Equal(frame.AsSpan(l4 + 18, header - l4 - 18).ToArray(), seg.AsSpan(l4 + 18, header - l4 - 18).ToArray()); // urgent, options
            }
            else
            {
                Assert.Equal(seg.Length - l4, BinaryPrimitives.ReadUInt16BigEndian(seg.AsSpan(l4 + 4)));
                Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(seg.AsSpan(l4 + 6)));
            }

            Assert.True(Packets.TransportVerifies(seg, l3, l4, s.IPv6, s.Tcp ? (byte)6 : (byte)17), $"segment {i} transport checksum");
            Assert.Equal(ReceiveChecksumStatus.Valid, ChecksumOffload.ValidateReceived(seg).Status);
            reassembled.AddRange(seg.AsSpan(header).ToArray());
        }

        Assert.Equal(frame.AsSpan(header).ToArray(), reassembled.ToArray());
        Assert.Equal(plan.TotalLength, total);

        // The contiguous form writes the same bytes.
        var output = new byte[plan.TotalLength];
        var lengths = new int[plan.SegmentCount];
        Assert.Equal(OffloadError.None, SoftwareSegmentation.TrySegment(frame, request, output, lengths, out int written));
        Assert.Equal(count, written);
        int at = 0;
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(sink.Segments[i], output.AsSpan(at, lengths[i]).ToArray());
            at += lengths[i];
        }
    }

    private static void CheckFragments(GsoCase c)
    {
        PacketSpec s = c.Spec;
        byte[] frame = Packets.Build(s);
        int l3 = Packets.L3Offset(s), l4 = Packets.L4Offset(s);
        int datagram = frame.Length - l4;
        const uint fragmentId = 0xCAFEF00D;
        var request = new SegmentationRequest(SegmentationKind.Udp, c.SegmentSize, (ushort)(l4 + 8)) { IPv6FragmentId = fragmentId };
        var sink = new ListSink();
        OffloadError error = SoftwareSegmentation.TrySegment(frame, request, ref sink, out int count);
        int chunk = c.SegmentSize & ~7;
        if (!s.IPv6 && datagram + l4 - l3 > 65535)
        {
            Assert.Equal(OffloadError.PayloadTooLarge, error);
            return;
        }

        Assert.Equal(OffloadError.None, error);
        Assert.Equal((datagram + chunk - 1) / chunk, count);
        int ipHeader = l4 - l3;
        int mtu = ipHeader + (s.IPv6 ? 8 : 0) + c.SegmentSize;
        var reassembled = new List<byte>(datagram);
        for (int i = 0; i < count; i++)
        {
            byte[] seg = sink.Segments[i];
            bool last = i == count - 1;
            Assert.True(seg.Length - l3 <= mtu, "fragment exceeds the MTU");
            Assert.Equal(frame.AsSpan(0, l3).ToArray(), seg.AsSpan(0, l3).ToArray());
            int dataAt;
            if (s.IPv6)
            {
                Assert.Equal(44, seg[l3 + 6]);
                Assert.Equal(seg.Length - l3 - 40, BinaryPrimitives.ReadUInt16BigEndian(seg.AsSpan(l3 + 4)));
                Assert.Equal(17, seg[l4]);
                ushort field = BinaryPrimitives.ReadUInt16BigEndian(seg.AsSpan(l4 + 2));
                Assert.Equal(reassembled.Count, field & 0xFFF8);
                Assert.Equal(last ? 0 : 1, field & 1);
                Assert.Equal(fragmentId, BinaryPrimitives.ReadUInt32BigEndian(seg.AsSpan(l4 + 4)));
                dataAt = l4 + 8;
            }
            else
            {
                Assert.Equal(seg.Length - l3, BinaryPrimitives.ReadUInt16BigEndian(seg.AsSpan(l3 + 2)));
                Assert.Equal(s.IPv4Id, BinaryPrimitives.ReadUInt16BigEndian(seg.AsSpan(l3 + 4)));
                ushort field = BinaryPrimitives.ReadUInt16BigEndian(seg.AsSpan(l3 + 6));
                Assert.Equal(reassembled.Count / 8, field & 0x1FFF);
                Assert.Equal(last ? 0 : 0x2000, field & 0xE000);   // MF on all but the last; DF cleared
                Assert.Equal(0xFFFF, Packets.Naive(seg.AsSpan(l3, ipHeader)));
                dataAt = l4;
            }

            if (!last)
            {
                Assert.Equal(chunk, seg.Length - dataAt);
            }

            reassembled.AddRange(seg.AsSpan(dataAt).ToArray());
        }

        // Reassembled: the original datagram with its UDP length and a checksum over the whole of it.
        byte[] whole = reassembled.ToArray();
        Assert.Equal(datagram, whole.Length);
        Assert.Equal(frame.AsSpan(l4, 4).ToArray(), whole.AsSpan(0, 4).ToArray());
        Assert.Equal(frame.AsSpan(l4 + 8).ToArray(), whole.AsSpan(8).ToArray());
        Assert.Equal(datagram, BinaryPrimitives.ReadUInt16BigEndian(whole.AsSpan(4)));
        ushort pseudo = Packets.NaivePseudo(frame, l3, s.IPv6, 17, datagram);
        Assert.Equal(0xFFFF, Packets.NaiveAdd(pseudo, Packets.Naive(whole)));
    }

    public static TheoryData<string, OffloadError> HostileFrames() => new()
    {
        { "truncated-ethernet", OffloadError.TruncatedEthernetHeader },
        { "truncated-vlan", OffloadError.TruncatedEthernetHeader },
        { "three-vlan-tags", OffloadError.UnsupportedEtherType },
        { "arp", OffloadError.UnsupportedEtherType },
        { "truncated-ipv4", OffloadError.TruncatedIPHeader },
        { "ihl-4", OffloadError.BadIPv4HeaderLength },
        { "ihl-0", OffloadError.BadIPv4HeaderLength },
        { "ihl-past-frame", OffloadError.TruncatedIPHeader },
        { "ipv4-version-6", OffloadError.BadIPVersion },
        { "total-length-past-frame", OffloadError.BadIPLength },
        { "total-length-below-header", OffloadError.BadIPLength },
        { "truncated-tcp", OffloadError.TruncatedTransportHeader },
        { "doff-4", OffloadError.BadTcpDataOffset },
        { "doff-0", OffloadError.BadTcpDataOffset },
        { "doff-past-frame", OffloadError.TruncatedTransportHeader },
        { "hdr-len-past-frame", OffloadError.HeaderLengthPastFrame },
        { "gso-size-0", OffloadError.BadSegmentSize },
        { "udp-frame", OffloadError.ProtocolMismatch },
        { "ipv4-fragment", OffloadError.IPFragment },
        { "gso-none", OffloadError.UnsupportedSegmentationKind },
        { "gso-2", OffloadError.UnsupportedSegmentationKind },
        { "gso-6", OffloadError.UnsupportedSegmentationKind },
        { "truncated-ipv6", OffloadError.TruncatedIPHeader },
        { "ipv6-payload-past-frame", OffloadError.BadIPLength },
        { "ipv6-extension-loop", OffloadError.UnsupportedIPv6ExtensionHeader },
        { "ipv6-routing", OffloadError.UnsupportedIPv6ExtensionHeader },
        { "segment-too-big", OffloadError.BadSegmentSize },
    };

    [Theory]
    [MemberData(nameof(HostileFrames))]
    public void TrySegment_HostileFrame_TypedErrorAndNothingWritten(string name, OffloadError expected)
    {
        var spec = new PacketSpec(IPv6: false, Tcp: true, PayloadLength: 3000, Fill: ChecksumFill.Partial);
        byte[] frame = Packets.Build(spec);
        const int l3 = 14, l4 = 34;
        var request = new SegmentationRequest(SegmentationKind.TcpV4, 1448, 54);
        switch (name)
        {
            case "truncated-ethernet": frame = frame[..13]; break;
            case "truncated-vlan": frame = frame[..16]; frame[12] = 0x81; frame[13] = 0; break;
            case "three-vlan-tags": frame = Insert(Insert(Insert(frame, 12, [0x81, 0, 0, 1]), 12, [0x81, 0, 0, 1]), 12, [0x81, 0, 0, 1]); break;
            case "arp": frame[12] = 0x08; frame[13] = 0x06; break;
            case "truncated-ipv4": frame = frame[..(l3 + 19)]; break;
            case "ihl-4": frame[l3] = 0x44; break;
            case "ihl-0": frame[l3] = 0x40; break;
            case "ihl-past-frame": frame[l3] = 0x4F; frame = frame[..(l3 + 40)]; break;
            case "ipv4-version-6": frame[l3] = 0x65; break;
            case "total-length-past-frame": BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l3 + 2), (ushort)(frame.Length - l3 + 1)); break;
            case "total-length-below-header": BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l3 + 2), 19); break;
            case "truncated-tcp": frame = frame[..(l4 + 19)]; BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l3 + 2), 39); break;
            case "doff-4": frame[l4 + 12] = 0x40; break;
            case "doff-0": frame[l4 + 12] = 0x00; break;
            case "doff-past-frame": frame[l4 + 12] = 0xF0; frame = frame[..(l4 + 40)]; BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l3 + 2), 60); break;
            case "hdr-len-past-frame": request = new SegmentationRequest(SegmentationKind.TcpV4, 1448, (ushort)(frame.Length + 1)); break;
            case "gso-size-0": request = new SegmentationRequest(SegmentationKind.TcpV4, 0, 54); break;
            case "udp-frame": frame = Packets.Build(spec with { Tcp = false }); break;
            case "ipv4-fragment": frame[l3 + 6] = 0x20; break;
            case "gso-none": request = new SegmentationRequest(SegmentationKind.None, 1448, 54); break;
            case "gso-2": request = SegmentationRequest.FromHeader(2, 1448, 54); break;
            case "gso-6": request = SegmentationRequest.FromHeader(6, 1448, 54); break;
            case "truncated-ipv6": frame = Packets.Build(spec with { IPv6 = true })[..(l3 + 39)]; request = new SegmentationRequest(SegmentationKind.TcpV6, 1448, 74); break;
            case "ipv6-payload-past-frame":
                frame = Packets.Build(spec with { IPv6 = true });
                BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l3 + 4), (ushort)(frame.Length - l3 - 39));
                request = new SegmentationRequest(SegmentationKind.TcpV6, 1448, 74);
                break;
            case "ipv6-extension-loop":
                // Nine destination-options headers in a row, each pointing to the next: more than the walk allows.
                frame = Packets.Build(spec with { IPv6 = true, PayloadLength = 200 });
                frame[l3 + 6] = 60;
                for (int i = 0; i < 9; i++)
                {
                    frame[l3 + 40 + (8 * i)] = 60;
                    frame[l3 + 40 + (8 * i) + 1] = 0;
                }

                request = new SegmentationRequest(SegmentationKind.TcpV6, 1448, 74);
                break;
            case "ipv6-routing":
                frame = Packets.Build(spec with { IPv6 = true, IPv6HopByHopBytes = 8 });
                frame[l3 + 6] = 43;
                request = new SegmentationRequest(SegmentationKind.TcpV6, 1448, 82);
                break;
            case "segment-too-big":
                frame = Packets.Build(spec with { PayloadLength = 65600 });   // an IP packet of 65640 bytes: over the 16-bit length
                request = new SegmentationRequest(SegmentationKind.TcpV4, 65535, 54);
                break;
            default: throw new ArgumentException(name);
        }

        var sink = new ListSink();
        Assert.Equal(expected, SoftwareSegmentation.TrySegment(frame, request, ref sink, out int count));
        Assert.Equal(0, count);
        Assert.Empty(sink.Segments);
        Assert.Equal(expected, SoftwareSegmentation.TryPlan(frame, request, out SegmentationPlan plan));
        Assert.Equal(0, plan.SegmentCount);
    }

    [Fact]
    public void TryPlan_ExactHeaderLength_MustMatchParsedHeaders()
    {
        byte[] frame = Packets.Build(new PacketSpec(false, true, 3000, TcpOptionWords: 3));
        const int header = 14 + 20 + 32;
        Assert.Equal(OffloadError.None, SoftwareSegmentation.TryPlan(frame, new SegmentationRequest(SegmentationKind.TcpV4, 1448, header, true), out _));
        Assert.Equal(OffloadError.HeaderLengthMismatch,
            SoftwareSegmentation.TryPlan(frame, new SegmentationRequest(SegmentationKind.TcpV4, 1448, header - 12, true), out _));

        // Without GUEST_HDRLEN, hdr_len is only a hint: a wrong one (inside the frame) is ignored, the parsed headers used.
        Assert.Equal(OffloadError.None, SoftwareSegmentation.TryPlan(frame, new SegmentationRequest(SegmentationKind.TcpV4, 1448, 20), out SegmentationPlan plan));
        Assert.Equal(header, plan.HeaderLength);
    }

    [Fact]
    public void TryPlan_WrongIPVersionForKind_ProtocolMismatch()
    {
        byte[] v4 = Packets.Build(new PacketSpec(false, true, 100));
        byte[] v6 = Packets.Build(new PacketSpec(true, true, 100));
        Assert.Equal(OffloadError.ProtocolMismatch, SoftwareSegmentation.TryPlan(v4, new SegmentationRequest(SegmentationKind.TcpV6, 50, 0), out _));
        Assert.Equal(OffloadError.ProtocolMismatch, SoftwareSegmentation.TryPlan(v6, new SegmentationRequest(SegmentationKind.TcpV4, 50, 0), out _));
        Assert.Equal(OffloadError.ProtocolMismatch, SoftwareSegmentation.TryPlan(v6, new SegmentationRequest(SegmentationKind.UdpL4, 50, 0), out _));
    }

    [Fact]
    public void TryPlan_UfoSegmentSizeBelow8_BadSegmentSize()
    {
        byte[] frame = Packets.Build(new PacketSpec(false, false, 100));
        Assert.Equal(OffloadError.BadSegmentSize, SoftwareSegmentation.TryPlan(frame, new SegmentationRequest(SegmentationKind.Udp, 7, 42), out _));
        Assert.Equal(OffloadError.None, SoftwareSegmentation.TryPlan(frame, new SegmentationRequest(SegmentationKind.Udp, 15, 42), out SegmentationPlan plan));
        Assert.Equal(8, plan.SegmentPayloadSize);
        Assert.Equal(14, plan.SegmentCount);
    }

    [Fact]
    public void TryPlan_UfoOverIPv6WithExtensionHeaders_Unsupported()
    {
        byte[] frame = Packets.Build(new PacketSpec(true, false, 3000, IPv6HopByHopBytes: 8));
        Assert.Equal(OffloadError.UnsupportedIPv6ExtensionHeader,
            SoftwareSegmentation.TryPlan(frame, new SegmentationRequest(SegmentationKind.Udp, 1400, 0), out _));
    }

    [Fact]
    public void FromHeader_EcnBit_Dropped()
    {
        SegmentationRequest r = SegmentationRequest.FromHeader(0x81, 1448, 54, headerLengthIsExact: true);
        Assert.Equal(new SegmentationRequest(SegmentationKind.TcpV4, 1448, 54, true), r);
    }

    [Fact]
    public void TrySegment_SinkRunsOut_OutputTooSmallAfterCompletedSegments()
    {
        byte[] frame = Packets.Build(new PacketSpec(false, true, 10000));
        var sink = new ListSink(limit: 3);
        Assert.Equal(OffloadError.OutputTooSmall,
            SoftwareSegmentation.TrySegment(frame, new SegmentationRequest(SegmentationKind.TcpV4, 1448, 54), ref sink, out int count));
        Assert.Equal(3, count);
        Assert.Equal(3, sink.Segments.Count);
    }

    [Fact]
    public void TrySegment_ContiguousOutputTooSmall_NothingWritten()
    {
        byte[] frame = Packets.Build(new PacketSpec(false, true, 10000));
        var request = new SegmentationRequest(SegmentationKind.TcpV4, 1448, 54);
        Assert.Equal(OffloadError.None, SoftwareSegmentation.TryPlan(frame, request, out SegmentationPlan plan));
        var output = new byte[plan.TotalLength - 1];
        Assert.Equal(OffloadError.OutputTooSmall, SoftwareSegmentation.TrySegment(frame, plan, output, new int[plan.SegmentCount], out int count));
        Assert.Equal(0, count);
        Assert.All(output, b => Assert.Equal(0, b));
        Assert.Equal(OffloadError.OutputTooSmall, SoftwareSegmentation.TrySegment(frame, plan, new byte[plan.TotalLength], new int[plan.SegmentCount - 1], out _));
    }

    [Fact]
    public void TrySegment_PlanForAnotherFrame_Throws()
    {
        byte[] frame = Packets.Build(new PacketSpec(false, true, 10000));
        Assert.Equal(OffloadError.None, SoftwareSegmentation.TryPlan(frame, new SegmentationRequest(SegmentationKind.TcpV4, 1448, 54), out SegmentationPlan plan));
        Assert.Throws<ArgumentException>(() => SoftwareSegmentation.TrySegment(frame.AsSpan(1), plan, new byte[plan.TotalLength], new int[plan.SegmentCount], out _));
        Assert.Throws<ArgumentException>(() => SoftwareSegmentation.TrySegment(frame, default(SegmentationPlan), new byte[10], new int[1], out _));
    }

    [Property(MaxTest = 1000)]
    public Property TrySegment_MutatedFrameAndRequest_NeverThrowsAndStaysInBounds() => Prop.ForAll(
        Arb.From(from c in Gen.OneOf(Cases(SegmentationKind.TcpV4), Cases(SegmentationKind.TcpV6), Cases(SegmentationKind.UdpL4), Cases(SegmentationKind.Udp))
                 from mutations in Gen.Choose(0, 6)
                 from kind in Gen.Choose(0, 7)
                 from hdrLen in Gen.Choose(0, 300)
                 from cut in Gen.Choose(0, 200)
                 select (c, mutations, kind, hdrLen, cut)),
        t =>
        {
            var random = new Random(t.c.Spec.Seed);
            byte[] frame = Packets.Build(t.c.Spec with { PayloadLength = Math.Min(t.c.Spec.PayloadLength, 3000) });
            for (int i = 0; i < t.mutations; i++)
            {
                frame[random.Next(Math.Min(frame.Length, 120))] = (byte)random.Next(256);
            }

            frame = frame[..Math.Max(0, frame.Length - t.cut)];
            var request = SegmentationRequest.FromHeader((byte)t.kind, (ushort)random.Next(0, 2000), (ushort)t.hdrLen);
            OffloadError planned = SoftwareSegmentation.TryPlan(frame, request, out SegmentationPlan plan);
            var output = new byte[planned == OffloadError.None ? plan.TotalLength + 64 : 64];
            output.AsSpan().Fill(0xEE);
            var lengths = new int[Math.Max(1, plan.SegmentCount)];
            OffloadError error = SoftwareSegmentation.TrySegment(frame, request, output, lengths, out int count);
            Assert.Equal(planned, error);
            if (error == OffloadError.None)
            {
                long sum = 0;
                for (int i = 0; i < count; i++)
                {
                    sum += lengths[i];
                }

                Assert.Equal(plan.TotalLength, sum);
                Assert.All(output.AsSpan((int)plan.TotalLength).ToArray(), b => Assert.Equal(0xEE, b));
            }
            else
            {
                Assert.Equal(0, count);
            }
        });

    private static byte[] Insert(byte[] data, int at, byte[] bytes)
    {
        var result = new byte[data.Length + bytes.Length];
        data.AsSpan(0, at).CopyTo(result);
        bytes.CopyTo(result, at);
        data.AsSpan(at).CopyTo(result.AsSpan(at + bytes.Length));
        return result;
    }
}
