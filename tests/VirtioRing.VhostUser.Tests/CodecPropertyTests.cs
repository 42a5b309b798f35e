using System;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.VhostUser.Protocol;

namespace VirtioRing.VhostUser.Tests;

public sealed class CodecPropertyTests
{
    [Property(MaxTest = 500)]
    public bool VringAddress_RoundTrips(uint index, uint flags, ulong desc, ulong used, ulong avail, ulong log)
    {
        var a = new VhostUserVringAddress(index, flags, desc, used, avail, log);
        byte[] bytes = new byte[VhostUserVringAddress.Length];
        VhostUserCodec.WriteVringAddress(bytes, a);
        return VhostUserCodec.ReadVringAddress(bytes) == a;
    }

    [Property(MaxTest = 500)]
    public bool VringStateLogInflightHeader_RoundTrip(uint index, uint num, ulong x, ulong y, ushort q, ushort s, uint request, uint flags, uint size)
    {
        byte[] b = new byte[24];
        VhostUserCodec.WriteVringState(b, new VhostUserVringState(index, num));
        bool ok = VhostUserCodec.ReadVringState(b) == new VhostUserVringState(index, num);
        VhostUserCodec.WriteLog(b, new VhostUserLog(x, y));
        ok &= VhostUserCodec.ReadLog(b) == new VhostUserLog(x, y);
        VhostUserCodec.WriteInflight(b, new VhostUserInflight(x, y, q, s));
        ok &= VhostUserCodec.ReadInflight(b) == new VhostUserInflight(x, y, q, s);
        var h = new VhostUserHeader((VhostUserRequest)request, (VhostUserHeaderFlags)flags, size);
        h.Write(b);
        return ok && VhostUserHeader.Read(b) == h;
    }

    [Property(MaxTest = 300)]
    public bool MemoryTable_RoundTrips(ulong[] values)
    {
        int n = Math.Clamp(values.Length / 4, 1, VhostUserCodec.MaxRegions);
        var regions = new VhostUserMemoryRegion[n];
        for (int i = 0; i < n; i++)
        {
            ulong V(int k) => values.Length == 0 ? (ulong)(i + k) : values[((4 * i) + k) % values.Length];
            regions[i] = new VhostUserMemoryRegion(V(0), V(1), V(2), V(3));
        }

        byte[] bytes = new byte[VhostUserCodec.MemoryTableLength(n)];
        VhostUserCodec.WriteMemoryTable(bytes, regions);
        var header = new VhostUserHeader(VhostUserRequest.SetMemTable, VhostUserHeaderFlags.Version1, (uint)bytes.Length);
        VhostUserCodec.ValidateRequest(header, bytes, n);
        return VhostUserCodec.ReadMemoryTable(bytes).AsSpan().SequenceEqual(regions);
    }

    [Property(MaxTest = 300)]
    public bool Config_RoundTrips(uint offset, uint flags, byte[] data)
    {
        byte[] config = data.Length > VhostUserCodec.MaxConfigSize ? data[..VhostUserCodec.MaxConfigSize] : data;
        byte[] bytes = new byte[12 + config.Length];
        VhostUserCodec.WriteConfig(bytes, offset, flags, config);
        VhostUserConfigPayload c = VhostUserCodec.ReadConfig(bytes);
        return c.Offset == offset && c.Flags == flags && c.Bytes(bytes).SequenceEqual(config);
    }

    /// <summary>Arbitrary headers, payloads and fd counts: validation accepts or throws its own error, nothing else.</summary>
    [Property(MaxTest = 5000)]
    public bool ValidateRequest_ArbitraryInput_OnlyProtocolErrors(uint request, uint flags, byte[] payload, byte fdCount)
    {
        var kinds = new[] { request, request % 45, 1 + (request % 40) };
        foreach (uint r in kinds)
        {
            var header = new VhostUserHeader((VhostUserRequest)r, (VhostUserHeaderFlags)(flags % 4 == 0 ? 1 : flags), (uint)payload.Length);
            try
            {
                VhostUserCodec.ValidateRequest(header, payload, fdCount % 12);
            }
            catch (VhostUserProtocolException)
            {
            }
        }

        return true;
    }

    [Property(MaxTest = 1000)]
    public Property ValidateRequest_ValidU64Requests_Accepted(ulong value) =>
        Prop.ToProperty(Accepts(VhostUserRequest.SetFeatures, value) && Accepts(VhostUserRequest.SetStatus, value));

    private static bool Accepts(VhostUserRequest request, ulong value)
    {
        byte[] p = new byte[8];
        VhostUserCodec.WriteU64(p, value);
        VhostUserCodec.ValidateRequest(new VhostUserHeader(request, VhostUserHeaderFlags.Version1 | VhostUserHeaderFlags.NeedReply, 8), p, 0);
        return true;
    }
}
