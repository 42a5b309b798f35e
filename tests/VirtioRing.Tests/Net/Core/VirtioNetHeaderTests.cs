using System;
using FsCheck.Xunit;
using VirtioRing.Net;
using VirtioRing.Net.Multiqueue;
using Xunit;

namespace VirtioRing.Tests.Net.Core;

/// <summary>
/// Golden vectors built by hand from the field order of <c>struct virtio_net_hdr</c> (virtio 1.3
/// §5.1.6): flags u8, gso_type u8, hdr_len, gso_size, csum_start, csum_offset, num_buffers (le16),
/// hash_value le32, hash_report le16, padding_reserved le16. The values are the spec's TCPv4 example
/// (csum_start 14+20 = 34, csum_offset 16) with an MSS of 1448 and hdr_len 54.
/// </summary>
public class VirtioNetHeaderTests
{
    private static readonly byte[] Legacy10 = [0x01, 0x01, 0x36, 0x00, 0xA8, 0x05, 0x22, 0x00, 0x10, 0x00];
    private static readonly byte[] Basic12 = [0x01, 0x01, 0x36, 0x00, 0xA8, 0x05, 0x22, 0x00, 0x10, 0x00, 0x03, 0x00];
    private static readonly byte[] Hash20 = [0x01, 0x01, 0x36, 0x00, 0xA8, 0x05, 0x22, 0x00, 0x10, 0x00, 0x03, 0x00, 0x78, 0x56, 0x34, 0x12, 0x02, 0x00, 0x00, 0x00];
    private static readonly byte[] LegacyBigEndian12 = [0x01, 0x01, 0x00, 0x36, 0x05, 0xA8, 0x00, 0x22, 0x00, 0x10, 0x00, 0x03];

    private static VirtioNetHeader Example(ushort numBuffers = 0, uint hash = 0, NetHashReport report = NetHashReport.None) => new()
    {
        Flags = NetHeaderFlags.NeedsChecksum,
        GsoType = NetGsoType.TcpV4,
        HeaderLength = 54,
        GsoSize = 1448,
        ChecksumStart = 34,
        ChecksumOffset = 16,
        NumBuffers = numBuffers,
        HashValue = hash,
        HashReport = report,
    };

    public static TheoryData<byte[], bool, VirtioNetHeader> Vectors => new()
    {
        { Legacy10, false, Example() },
        { Basic12, false, Example(3) },
        { Hash20, false, Example(3, 0x12345678, NetHashReport.TcpV4) },
        { LegacyBigEndian12, true, Example(3) },
    };

    private static NetHeaderLayout LayoutOf(int size, bool bigEndian) => size switch
    {
        10 => NetHeaderLayout.LegacyFor(false, bigEndian),
        12 => bigEndian ? NetHeaderLayout.LegacyFor(true, true) : NetHeaderLayout.Modern,
        _ => NetHeaderLayout.ModernHashReport,
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Read_GoldenVector_MatchesFields(byte[] bytes, bool bigEndian, VirtioNetHeader expected)
    {
        Assert.Equal(expected, VirtioNetHeader.Read(bytes, LayoutOf(bytes.Length, bigEndian)));
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Write_GoldenVector_MatchesBytes(byte[] bytes, bool bigEndian, VirtioNetHeader header)
    {
        var buffer = new byte[24];
        buffer.AsSpan().Fill(0xEE);
        Assert.Equal(bytes.Length, header.Write(buffer, LayoutOf(bytes.Length, bigEndian)));
        Assert.Equal(bytes, buffer.AsSpan(0, bytes.Length).ToArray());
        Assert.All(buffer.AsSpan(bytes.Length).ToArray(), b => Assert.Equal(0xEE, b));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(12)]
    [InlineData(20)]
    public void Read_SourceLongerThanLayout_FieldsPastItZero(int size)
    {
        // The little-endian fast path loads whole words: bytes after the layout must not leak into the header.
        var bytes = new byte[32];
        bytes.AsSpan().Fill(0xEE);
        Hash20.AsSpan(0, size).CopyTo(bytes);
        VirtioNetHeader h = VirtioNetHeader.Read(bytes, LayoutOf(size, false));
        Assert.Equal(VirtioNetHeader.Read(Hash20.AsSpan(0, size), LayoutOf(size, false)), h);
        Assert.Equal(size >= 12 ? 3 : 0, h.NumBuffers);
        Assert.Equal(size == 20 ? 0x12345678u : 0u, h.HashValue);
        Assert.Equal(0, h.PaddingReserved);
    }

    [Fact]
    public void Write_LegacyLayoutWithHashFields_DropsThem()
    {
        var buffer = new byte[10];
        Example(7, 99, NetHashReport.IPv4).Write(buffer, NetHeaderLayout.Legacy);
        Assert.Equal(Legacy10, buffer);
    }

    [Theory]
    [InlineData(NetFeatures.None, 10)]
    [InlineData(NetFeatures.MrgRxBuf, 12)]
    [InlineData(NetFeatures.Version1, 12)]
    [InlineData(NetFeatures.Version1 | NetFeatures.MrgRxBuf, 12)]
    [InlineData(NetFeatures.Version1 | NetFeatures.HashReport, 20)]
    public void SizeFor_Features_SpecSize(NetFeatures features, int size)
    {
        Assert.Equal(size, VirtioNetHeader.SizeFor(features));
        Assert.Equal(size, NetHeaderLayout.For(features).Size);
    }

    [Fact]
    public void LayoutFor_Version1_AlwaysLittleEndian()
    {
        Assert.False(NetHeaderLayout.For(NetFeatures.Version1, legacyGuestBigEndian: true).BigEndian);
        Assert.True(NetHeaderLayout.For(NetFeatures.MrgRxBuf, legacyGuestBigEndian: true).BigEndian);
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(9, 10)]
    [InlineData(11, 12)]
    [InlineData(19, 20)]
    public void TryRead_ShortInput_TooShort(int length, int size)
    {
        NetHeaderError e = VirtioNetHeader.TryRead(new byte[length], LayoutOf(size, false), out VirtioNetHeader h);
        Assert.Equal(NetHeaderError.TooShort, e);
        Assert.Equal(default, h);
    }

    [Fact]
    public void Read_ShortInputOrBadLayout_Throws()
    {
        Assert.Throws<ArgumentException>(() => VirtioNetHeader.Read(new byte[11], NetHeaderLayout.Modern));
        Assert.Throws<ArgumentException>(() => VirtioNetHeader.Read(new byte[32], default));
        Assert.Throws<ArgumentException>(() => default(VirtioNetHeader).Write(new byte[11], NetHeaderLayout.Modern));
        Assert.False(default(VirtioNetHeader).TryWrite(new byte[19], NetHeaderLayout.ModernHashReport));
    }

    [Property(MaxTest = 1000)]
    public void RoundTrip_Legacy10_BytesPreserved(byte[] tail, bool bigEndian) => BytesRoundTrip(tail, NetHeaderLayout.LegacyFor(false, bigEndian));

    [Property(MaxTest = 1000)]
    public void RoundTrip_Size12_BytesPreserved(byte[] tail, bool bigEndian) =>
        BytesRoundTrip(tail, bigEndian ? NetHeaderLayout.LegacyFor(true, true) : NetHeaderLayout.Modern);

    [Property(MaxTest = 1000)]
    public void RoundTrip_Size20_BytesPreserved(byte[] tail) => BytesRoundTrip(tail, NetHeaderLayout.ModernHashReport);

    [Property(MaxTest = 1000)]
    public void RoundTrip_AnyHeaderEverySize_FieldsTheLayoutHasPreserved(
        byte flags, byte gso, ushort hdrLen, ushort gsoSize, ushort start, ushort offset, ushort numBuffers, uint hash, ushort report, ushort pad)
    {
        var h = new VirtioNetHeader
        {
            Flags = (NetHeaderFlags)flags,
            GsoType = (NetGsoType)gso,
            HeaderLength = hdrLen,
            GsoSize = gsoSize,
            ChecksumStart = start,
            ChecksumOffset = offset,
            NumBuffers = numBuffers,
            HashValue = hash,
            HashReport = (NetHashReport)report,
            PaddingReserved = pad,
        };
        Span<byte> buffer = stackalloc byte[20];
        foreach (NetHeaderLayout layout in new[] { NetHeaderLayout.Legacy, NetHeaderLayout.LegacyFor(false, true), NetHeaderLayout.Modern, NetHeaderLayout.LegacyFor(true, true), NetHeaderLayout.ModernHashReport })
        {
            h.Write(buffer, layout);
            VirtioNetHeader back = VirtioNetHeader.Read(buffer, layout);
            VirtioNetHeader expected = h;
            if (layout.Size < 12)
            {
                expected.NumBuffers = 0;
            }

            if (layout.Size < 20)
            {
                expected.HashValue = 0;
                expected.HashReport = NetHashReport.None;
                expected.PaddingReserved = 0;
            }

            Assert.Equal(expected, back);
        }
    }

    private static void BytesRoundTrip(byte[]? tail, NetHeaderLayout layout)
    {
        // Arbitrary bytes (padded to the header size): decode then encode gives the same bytes back.
        var bytes = new byte[layout.Size];
        tail?.AsSpan(0, Math.Min(tail.Length, bytes.Length)).CopyTo(bytes);
        Assert.Equal(NetHeaderError.None, VirtioNetHeader.TryRead(bytes, layout, out VirtioNetHeader h));
        var again = new byte[layout.Size];
        Assert.True(h.TryWrite(again, layout));
        Assert.Equal(bytes, again);
    }
}
