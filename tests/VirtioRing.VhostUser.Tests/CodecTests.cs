using System;
using VirtioRing.VhostUser.Protocol;
using Xunit;

namespace VirtioRing.VhostUser.Tests;

/// <summary>Golden bytes from the layouts in QEMU's docs/interop/vhost-user.rst ("Message Specification"), and strict validation.</summary>
public sealed class CodecTests
{
    [Fact]
    public void Constants_MatchTheSpec()
    {
        // "Front-end message types" ids and "Protocol features" bit numbers.
        Assert.Equal(1u, (uint)VhostUserRequest.GetFeatures);
        Assert.Equal(5u, (uint)VhostUserRequest.SetMemTable);
        Assert.Equal(11u, (uint)VhostUserRequest.GetVringBase);
        Assert.Equal(18u, (uint)VhostUserRequest.SetVringEnable);
        Assert.Equal(19u, (uint)VhostUserRequest.SendRarp);
        Assert.Equal(24u, (uint)VhostUserRequest.GetConfig);
        Assert.Equal(36u, (uint)VhostUserRequest.GetMaxMemSlots);
        Assert.Equal(38u, (uint)VhostUserRequest.RemMemReg);
        Assert.Equal(40u, (uint)VhostUserRequest.GetStatus);
        Assert.Equal(1UL << 3, (ulong)VhostUserProtocolFeatures.ReplyAck);
        Assert.Equal(1UL << 9, (ulong)VhostUserProtocolFeatures.Config);
        Assert.Equal(1UL << 15, (ulong)VhostUserProtocolFeatures.ConfigureMemSlots);
        Assert.Equal(1UL << 16, (ulong)VhostUserProtocolFeatures.Status);
        Assert.Equal(1UL << 30, Backend.VhostUserNetBackend.ProtocolFeaturesBit);
        Assert.Equal(0x4u, (uint)VhostUserHeaderFlags.Reply);
        Assert.Equal(0x8u, (uint)VhostUserHeaderFlags.NeedReply);
    }

    [Fact]
    public void Header_GetFeaturesReply_GoldenBytes()
    {
        byte[] bytes = new byte[12];
        new VhostUserHeader(VhostUserRequest.GetFeatures, VhostUserHeaderFlags.Version1 | VhostUserHeaderFlags.Reply, 8).Write(bytes);
        Assert.Equal(Convert.FromHexString("010000000500000008000000"), bytes);
        Assert.Equal(new VhostUserHeader(VhostUserRequest.GetFeatures, (VhostUserHeaderFlags)5, 8), VhostUserHeader.Read(bytes));
    }

    [Fact]
    public void VringAddress_GoldenBytes()
    {
        byte[] bytes = new byte[40];
        VhostUserCodec.WriteVringAddress(bytes, new VhostUserVringAddress(1, 0, 0x1122334455667788, 0x0102030405060708, 0xA0B0C0D0E0F00010, 0x42));
        Assert.Equal(Convert.FromHexString(
            "01000000" + "00000000" + "8877665544332211" + "0807060504030201" + "1000F0E0D0C0B0A0" + "4200000000000000"), bytes);
    }

    [Fact]
    public void MemoryTable_OneRegion_GoldenBytes()
    {
        byte[] bytes = new byte[VhostUserCodec.MemoryTableLength(1)];
        Assert.Equal(40, VhostUserCodec.WriteMemoryTable(bytes, [new VhostUserMemoryRegion(0x100000, 0x20000, 0x7f0000000000, 0x1000)]));
        Assert.Equal(Convert.FromHexString(
            "01000000" + "00000000" + "0000100000000000" + "0000020000000000" + "00000000007F0000" + "0010000000000000"), bytes);
    }

    [Fact]
    public void SingleRegion_PaddingThenRegion_GoldenBytes()
    {
        byte[] bytes = new byte[40];
        VhostUserCodec.WriteSingleRegion(bytes, new VhostUserMemoryRegion(1, 2, 3, 4));
        Assert.Equal(Convert.FromHexString("0000000000000000" + "0100000000000000" + "0200000000000000" + "0300000000000000" + "0400000000000000"), bytes);
    }

    [Fact]
    public void ConfigInflightLogState_GoldenBytes()
    {
        byte[] config = new byte[14];
        VhostUserCodec.WriteConfig(config, 6, 1, [0xAB, 0xCD]);
        Assert.Equal(Convert.FromHexString("06000000" + "02000000" + "01000000" + "ABCD"), config);

        byte[] inflight = new byte[24];
        VhostUserCodec.WriteInflight(inflight, new VhostUserInflight(0x1000, 0x20, 3, 256));
        Assert.Equal(Convert.FromHexString("0010000000000000" + "2000000000000000" + "0300" + "0001" + "00000000"), inflight);

        byte[] log = new byte[16];
        VhostUserCodec.WriteLog(log, new VhostUserLog(0x2000, 0x10));
        Assert.Equal(Convert.FromHexString("0020000000000000" + "1000000000000000"), log);

        byte[] state = new byte[8];
        VhostUserCodec.WriteVringState(state, new VhostUserVringState(1, 0x8000_8000));
        Assert.Equal(Convert.FromHexString("01000000" + "00800080"), state);
    }

    public static TheoryData<string, VhostUserProtocolError> BadHeaders => new()
    {
        { "01000000" + "00000000" + "00000000", VhostUserProtocolError.BadVersion },
        { "01000000" + "02000000" + "00000000", VhostUserProtocolError.BadVersion },
        { "01000000" + "05000000" + "00000000", VhostUserProtocolError.BadFlags },
        { "00000000" + "01000000" + "00000000", VhostUserProtocolError.UnknownRequest },
        { "29000000" + "01000000" + "00000000", VhostUserProtocolError.UnknownRequest },
        { "FFFFFFFF" + "01000000" + "00000000", VhostUserProtocolError.UnknownRequest },
        { "01000000" + "01000000" + "08000000", VhostUserProtocolError.PayloadTooLarge },
        { "05000000" + "01000000" + "09010000", VhostUserProtocolError.PayloadTooLarge },
        { "18000000" + "01000000" + "0D010000", VhostUserProtocolError.PayloadTooLarge },
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public void ValidateRequestHeader_BadHeader_TypedError(string hex, VhostUserProtocolError error)
    {
        VhostUserHeader header = VhostUserHeader.Read(Convert.FromHexString(hex));
        VhostUserProtocolException e = Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ValidateRequestHeader(header));
        Assert.Equal(error, e.Error);
    }

    [Theory]
    [InlineData(VhostUserRequest.SetFeatures, 4, 0, VhostUserProtocolError.WrongPayloadSize)]
    [InlineData(VhostUserRequest.SetFeatures, 8, 1, VhostUserProtocolError.UnexpectedFd)]
    [InlineData(VhostUserRequest.SetVringNum, 4, 0, VhostUserProtocolError.WrongPayloadSize)]
    [InlineData(VhostUserRequest.SetVringAddr, 32, 0, VhostUserProtocolError.WrongPayloadSize)]
    [InlineData(VhostUserRequest.AddMemReg, 40, 0, VhostUserProtocolError.MissingFd)]
    [InlineData(VhostUserRequest.AddMemReg, 40, 2, VhostUserProtocolError.UnexpectedFd)]
    [InlineData(VhostUserRequest.RemMemReg, 40, 2, VhostUserProtocolError.UnexpectedFd)]
    [InlineData(VhostUserRequest.SetVringKick, 8, 0, VhostUserProtocolError.MissingFd)]
    [InlineData(VhostUserRequest.SetLogBase, 16, 0, VhostUserProtocolError.MissingFd)]
    [InlineData(VhostUserRequest.GetConfig, 11, 0, VhostUserProtocolError.WrongPayloadSize)]
    [InlineData(VhostUserRequest.SetMemTable, 4, 0, VhostUserProtocolError.WrongPayloadSize)]
    [InlineData(VhostUserRequest.SetOwner, 0, 9, VhostUserProtocolError.UnexpectedFd)]
    public void ValidateRequest_WrongSizeOrFds_TypedError(VhostUserRequest request, int size, int fds, VhostUserProtocolError error)
    {
        byte[] payload = new byte[size];
        var header = new VhostUserHeader(request, VhostUserHeaderFlags.Version1, (uint)size);
        VhostUserProtocolException e = Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ValidateRequest(header, payload, fds));
        Assert.Equal(error, e.Error);
    }

    [Theory]
    [InlineData(0u, 0, VhostUserProtocolError.TooManyRegions)]
    [InlineData(9u, 8, VhostUserProtocolError.TooManyRegions)]
    [InlineData(9u, 9, VhostUserProtocolError.PayloadTooLarge)]
    [InlineData(2u, 1, VhostUserProtocolError.WrongPayloadSize)]
    public void ValidateRequest_MemoryTableCountMismatch_TypedError(uint count, int regionsInPayload, VhostUserProtocolError error)
    {
        byte[] payload = new byte[VhostUserCodec.MemoryTableLength(regionsInPayload)];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(payload, count);
        var header = new VhostUserHeader(VhostUserRequest.SetMemTable, VhostUserHeaderFlags.Version1, (uint)payload.Length);
        VhostUserProtocolException e = Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ValidateRequest(header, payload, (int)Math.Min(count, 8)));
        Assert.Equal(error, e.Error);
    }

    [Fact]
    public void ValidateRequest_MemoryTableFds_MustMatchRegions()
    {
        byte[] payload = new byte[VhostUserCodec.MemoryTableLength(2)];
        payload[0] = 2;
        var header = new VhostUserHeader(VhostUserRequest.SetMemTable, VhostUserHeaderFlags.Version1, (uint)payload.Length);
        VhostUserCodec.ValidateRequest(header, payload, 2);
        Assert.Equal(VhostUserProtocolError.MissingFd, Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ValidateRequest(header, payload, 1)).Error);
        Assert.Equal(VhostUserProtocolError.UnexpectedFd, Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ValidateRequest(header, payload, 3)).Error);
    }

    [Fact]
    public void ValidateRequest_VringFdFlags_DecideTheFdCount()
    {
        var header = new VhostUserHeader(VhostUserRequest.SetVringCall, VhostUserHeaderFlags.Version1, 8);
        byte[] payload = new byte[8];
        VhostUserCodec.WriteU64(payload, 3 | VhostUserCodec.VringNoFdFlag);
        VhostUserCodec.ValidateRequest(header, payload, 0);
        Assert.Equal(VhostUserProtocolError.UnexpectedFd, Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ValidateRequest(header, payload, 1)).Error);
        VhostUserCodec.WriteU64(payload, 3 | (1UL << 9));
        Assert.Equal(VhostUserProtocolError.InvalidValue, Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ValidateRequest(header, payload, 1)).Error);
    }

    [Fact]
    public void ValidateRequest_ConfigOver256_PayloadTooLarge()
    {
        byte[] payload = new byte[12 + 256];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), 257);
        var header = new VhostUserHeader(VhostUserRequest.SetConfig, VhostUserHeaderFlags.Version1, (uint)payload.Length);
        Assert.Equal(VhostUserProtocolError.PayloadTooLarge, Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ValidateRequest(header, payload, 0)).Error);
    }

    [Fact]
    public void Readers_ShortPayload_ProtocolErrorNotOutOfRange()
    {
        byte[] shortPayload = new byte[3];
        Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadU64(shortPayload));
        Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadVringState(shortPayload));
        Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadVringAddress(shortPayload));
        Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadMemoryTable(shortPayload));
        Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadSingleRegion(shortPayload));
        Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadConfig(shortPayload));
        Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadLog(shortPayload));
        Assert.Throws<VhostUserProtocolException>(() => VhostUserCodec.ReadInflight(shortPayload));
    }
}
