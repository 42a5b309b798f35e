using System;
using System.Security.Cryptography;
using VirtioRing.Linux.Interop;
using VirtioRing.Linux.Tap;
using VirtioRing.Net;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>Option checks and offload mapping: no privileges needed (the checks run before <c>/dev/net/tun</c> is opened).</summary>
public sealed class TapOptionsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(257)]
    public void Open_QueuesOutOfRange_ThrowsNamingQueues(int queues)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TapDevice.Open(new TapOptions { Name = "vrx0", Queues = queues }));
        Assert.Equal(nameof(TapOptions.Queues), e.ParamName);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-4096)]
    public void Open_SendBufferNotPositive_ThrowsNamingIt(int size)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TapDevice.Open(new TapOptions { Name = "vrx0", SendBufferSize = size }));
        Assert.Equal(nameof(TapOptions.SendBufferSize), e.ParamName);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("a:b")]
    [InlineData("a b")]
    [InlineData("tab\there")]
    [InlineData("sixteen-chars-xx")]    // 16 bytes: one more than IFNAMSIZ - 1
    [InlineData("vr%s")]
    [InlineData("vr%")]
    [InlineData("vr%d%d")]
    public void Open_BadName_ThrowsNamingName(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => TapDevice.Open(new TapOptions { Name = name }));
        Assert.Equal(nameof(TapOptions.Name), e.ParamName);
        Assert.Contains(name, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_TemplateWithoutCreate_ThrowsNamingName()
    {
        var e = Assert.Throws<ArgumentException>(() => TapDevice.Open(new TapOptions { Name = "vr%d", CreateIfMissing = false }));
        Assert.Equal(nameof(TapOptions.Name), e.ParamName);
        Assert.Contains("%d", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_NoNameWithoutCreate_ThrowsNamingName()
    {
        var e = Assert.Throws<ArgumentException>(() => TapDevice.Open(new TapOptions { CreateIfMissing = false }));
        Assert.Equal(nameof(TapOptions.Name), e.ParamName);
    }

    [Fact]
    public void OpenExisting_NoSuchInterface_ThrowsSayingSo()
    {
        string name = "vrno" + Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        var e = Assert.Throws<InvalidOperationException>(() => TapBackend.OpenExisting(name));
        Assert.Contains(name, e.Message, StringComparison.Ordinal);
        Assert.Contains("no network interface", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vrtap0")]
    [InlineData("fifteen-chars-x")]
    [InlineData("vr%d")]
    [InlineData("x")]
    public void CheckName_ValidNames_Pass(string name)
    {
        Assert.Null(TapOptions.CheckName(name, allowTemplate: true));
    }

    [Fact]
    public void Defaults_OneQueueCreatedNotPersistentEveryTapOffload()
    {
        var o = new TapOptions();
        Assert.Null(o.Name);
        Assert.Equal(TapOptions.DefaultNameTemplate, o.EffectiveName);
        Assert.Equal(1, o.Queues);
        Assert.False(o.EffectiveMultiQueue);
        Assert.True(o.CreateIfMissing);
        Assert.False(o.Persistent);
        Assert.Null(o.SendBufferSize);
        Assert.Equal(NetOffloads.All & ~NetOffloads.HashReport, o.Offloads);
        Assert.True(new TapOptions { Queues = 2 }.EffectiveMultiQueue);
        Assert.True(new TapOptions { MultiQueue = true }.EffectiveMultiQueue);
    }

    [Theory]
    [InlineData(NetOffloads.Tso4 | NetOffloads.Tso6 | NetOffloads.Ufo, NetOffloads.None)]                  // segmentation needs checksum offload
    [InlineData(NetOffloads.Checksum | NetOffloads.Ecn, NetOffloads.Checksum)]                              // ECN only with TSO
    [InlineData(NetOffloads.Checksum | NetOffloads.Tso4 | NetOffloads.Ecn, NetOffloads.Checksum | NetOffloads.Tso4 | NetOffloads.Ecn)]
    [InlineData(NetOffloads.All, NetOffloads.All & ~NetOffloads.HashReport)]                                // a TAP has no hash report
    [InlineData(NetOffloads.Checksum | NetOffloads.Uso4, NetOffloads.Checksum)]                             // USO4 and USO6 only together
    [InlineData(NetOffloads.Checksum | NetOffloads.Uso6, NetOffloads.Checksum)]
    [InlineData(NetOffloads.Checksum | NetOffloads.Tso4 | NetOffloads.Uso4, NetOffloads.Checksum | NetOffloads.Tso4)]
    [InlineData(NetOffloads.Checksum | NetOffloads.Uso4 | NetOffloads.Uso6, NetOffloads.Checksum | NetOffloads.Uso4 | NetOffloads.Uso6)]
    public void Normalize_KeepsOnlyWhatTheKernelAcceptsTogether(NetOffloads given, NetOffloads expected)
    {
        Assert.Equal(expected, TapDevice.Normalize(given));
    }

    [Fact]
    public void Reduce_AfterARefusal_AsksForLessStepByStepDownToNone()
    {
        NetOffloads all = NetOffloads.All & ~NetOffloads.HashReport;
        NetOffloads noUso = all & ~(NetOffloads.Uso4 | NetOffloads.Uso6);
        NetOffloads noUfo = noUso & ~NetOffloads.Ufo;
        Assert.Equal(noUso, TapDevice.Reduce(all));
        Assert.Equal(noUfo, TapDevice.Reduce(noUso));
        Assert.Equal(NetOffloads.Checksum, TapDevice.Reduce(noUfo));
        Assert.Equal(NetOffloads.None, TapDevice.Reduce(NetOffloads.Checksum));
        Assert.Equal(NetOffloads.None, TapDevice.Reduce(NetOffloads.None));
    }

    [Fact]
    public void ToTunFlags_MapsEachOffloadToItsTunBit()
    {
        Assert.Equal(0u, TapDevice.ToTunFlags(NetOffloads.None));
        Assert.Equal(Tun.TUN_F_CSUM, TapDevice.ToTunFlags(NetOffloads.Checksum));
        Assert.Equal(Tun.TUN_F_TSO4, TapDevice.ToTunFlags(NetOffloads.Tso4));
        Assert.Equal(Tun.TUN_F_TSO6, TapDevice.ToTunFlags(NetOffloads.Tso6));
        Assert.Equal(Tun.TUN_F_TSO_ECN, TapDevice.ToTunFlags(NetOffloads.Ecn));
        Assert.Equal(Tun.TUN_F_UFO, TapDevice.ToTunFlags(NetOffloads.Ufo));
        Assert.Equal(Tun.TUN_F_USO4, TapDevice.ToTunFlags(NetOffloads.Uso4));
        Assert.Equal(Tun.TUN_F_USO6, TapDevice.ToTunFlags(NetOffloads.Uso6));
        Assert.Equal(0x7Fu, TapDevice.ToTunFlags(NetOffloads.All));   // HashReport has no TUN bit
    }

    [Theory]
    [InlineData(10)]
    [InlineData(12)]
    [InlineData(20)]
    public void LayoutFor_EachHeaderSize_IsThatLittleEndianLayout(int size)
    {
        NetHeaderLayout layout = TapBackend.LayoutFor(size);
        Assert.Equal(size, layout.Size);
        Assert.False(layout.BigEndian);
    }
}
