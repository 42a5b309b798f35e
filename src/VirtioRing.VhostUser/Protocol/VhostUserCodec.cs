using System;
using System.Buffers.Binary;
using System.Collections.Generic;

namespace VirtioRing.VhostUser.Protocol;

/// <summary>
/// Encodes and decodes vhost-user payloads (QEMU <c>docs/interop/vhost-user.rst</c>, "Payload"), and
/// checks a received request strictly: version, flags, a known request, the payload size its layout
/// needs, and the number of fds it may carry. Every read is bounds-checked first; bad input is a
/// <see cref="VhostUserProtocolException"/>, never another exception and never a read past the span.
/// </summary>
public static class VhostUserCodec
{
    /// <summary>The most regions a <c>SET_MEM_TABLE</c> carries (<c>VHOST_MEMORY_BASELINE_NREGIONS</c>).</summary>
    public const int MaxRegions = 8;

    /// <summary>The most fds one message carries.</summary>
    public const int MaxFds = 8;

    /// <summary>The largest config space access (<c>VHOST_USER_MAX_CONFIG_SIZE</c>).</summary>
    public const int MaxConfigSize = 256;

    /// <summary>The largest payload accepted for any request (requests this library does not serve included).</summary>
    public const int MaxPayloadSize = 4096;

    /// <summary>The <c>SET_VRING_KICK/CALL/ERR</c> bit that says no fd is passed (bit 8).</summary>
    public const ulong VringNoFdFlag = 1UL << 8;

    /// <summary>The <c>SET_VRING_KICK/CALL/ERR</c> index bits (0–7).</summary>
    public const ulong VringIndexMask = 0xff;

    /// <summary>The length of a memory table payload with <paramref name="regions"/> regions (8 + 32 n).</summary>
    /// <param name="regions">The number of regions.</param>
    /// <returns>The length in bytes.</returns>
    public static int MemoryTableLength(int regions) => 8 + (VhostUserMemoryRegion.Length * regions);

    /// <summary>The length of a single memory region description (8 bytes of padding and a region).</summary>
    public const int SingleRegionLength = 8 + VhostUserMemoryRegion.Length;

    /// <summary>
    /// Checks a request's header before its payload is read: version 1, no reply bit, a request this
    /// library knows, a size no larger than that request's largest payload.
    /// </summary>
    /// <param name="header">The header.</param>
    /// <exception cref="VhostUserProtocolException">The header is not acceptable (<see cref="VhostUserProtocolException.Error"/> says why).</exception>
    public static void ValidateRequestHeader(in VhostUserHeader header)
    {
        if ((header.Flags & VhostUserHeaderFlags.VersionMask) != VhostUserHeaderFlags.Version1)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadVersion, header.Request, $"version {(uint)(header.Flags & VhostUserHeaderFlags.VersionMask)}, expected 1");
        }

        if (header.IsReply)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadFlags, header.Request, "a request carries the reply flag");
        }

        int max = MaxRequestPayload(header.Request);
        if (max < 0)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.UnknownRequest, VhostUserRequest.None, $"unknown request {(uint)header.Request}");
        }

        if (header.Size > (uint)max)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.PayloadTooLarge, header.Request, $"payload of {header.Size} bytes, at most {max}");
        }
    }

    /// <summary>
    /// Checks a whole request: the header (<see cref="ValidateRequestHeader"/>), the exact payload size
    /// its layout needs (a memory table: 8 + 32 n with 1 ≤ n ≤ <paramref name="maxRegions"/>; a config
    /// access: 12 + size with size ≤ 256), reserved bits, and the number of fds.
    /// </summary>
    /// <param name="header">The header.</param>
    /// <param name="payload">The payload (<see cref="VhostUserHeader.Size"/> bytes).</param>
    /// <param name="fdCount">The number of fds received with it.</param>
    /// <param name="maxRegions">The most regions a <c>SET_MEM_TABLE</c> may carry.</param>
    /// <exception cref="VhostUserProtocolException">The request is malformed.</exception>
    public static void ValidateRequest(in VhostUserHeader header, ReadOnlySpan<byte> payload, int fdCount, int maxRegions = MaxRegions)
    {
        ValidateRequestHeader(header);
        VhostUserRequest r = header.Request;
        if (payload.Length != header.Size)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.Truncated, r, $"payload of {payload.Length} bytes, header says {header.Size}");
        }

        int expectedFds = 0;
        bool optionalFd = false;
        switch (PayloadKindOf(r))
        {
            case PayloadKind.None:
                ExpectSize(r, payload, 0);
                break;
            case PayloadKind.U64:
                ExpectSize(r, payload, 8);
                if (r is VhostUserRequest.SetVringKick or VhostUserRequest.SetVringCall or VhostUserRequest.SetVringErr)
                {
                    ulong v = ReadU64(payload);
                    if ((v & ~(VringIndexMask | VringNoFdFlag)) != 0)
                    {
                        VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidValue, r, $"reserved bits set in 0x{v:x}");
                    }

                    expectedFds = (v & VringNoFdFlag) != 0 ? 0 : 1;
                }

                break;
            case PayloadKind.VringState:
                ExpectSize(r, payload, VhostUserVringState.Length);
                break;
            case PayloadKind.VringAddress:
                ExpectSize(r, payload, VhostUserVringAddress.Length);
                break;
            case PayloadKind.MemoryTable:
                {
                    if (payload.Length < 8)
                    {
                        VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.WrongPayloadSize, r, $"payload of {payload.Length} bytes, a memory table needs at least 8");
                    }

                    uint n = BinaryPrimitives.ReadUInt32LittleEndian(payload);
                    if (n == 0 || n > (uint)Math.Min(maxRegions, MaxRegions))
                    {
                        VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.TooManyRegions, r, $"{n} regions, 1 to {Math.Min(maxRegions, MaxRegions)} allowed");
                    }

                    ExpectSize(r, payload, MemoryTableLength((int)n));
                    expectedFds = (int)n;
                    break;
                }

            case PayloadKind.SingleRegion:
                ExpectSize(r, payload, SingleRegionLength);
                if (r == VhostUserRequest.AddMemReg)
                {
                    expectedFds = 1;
                }
                else
                {
                    optionalFd = true;   // REM_MEM_REG: "the back-end MAY accept messages with one file descriptor" (and closes it)
                }

                break;
            case PayloadKind.Config:
                {
                    if (payload.Length < VhostUserConfigPayload.HeaderLength)
                    {
                        VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.WrongPayloadSize, r, $"payload of {payload.Length} bytes, a config access needs at least 12");
                    }

                    uint size = BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(4));
                    if (size > MaxConfigSize)
                    {
                        VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.PayloadTooLarge, r, $"config access of {size} bytes, at most {MaxConfigSize}");
                    }

                    ExpectSize(r, payload, VhostUserConfigPayload.HeaderLength + (int)size);
                    break;
                }

            case PayloadKind.Log:
                ExpectSize(r, payload, VhostUserLog.Length);
                expectedFds = 1;
                break;
            case PayloadKind.Inflight:
                ExpectSize(r, payload, VhostUserInflight.Length);
                expectedFds = r == VhostUserRequest.SetInflightFd ? 1 : 0;
                break;
            case PayloadKind.FdOnly:
                ExpectSize(r, payload, 0);
                expectedFds = 1;
                break;
            default:
                break;   // known, not served: the size cap was checked; the back-end refuses it
        }

        if (fdCount > MaxFds || fdCount > expectedFds + (optionalFd ? 1 : 0))
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.UnexpectedFd, r, $"{fdCount} fd(s), {expectedFds} expected");
        }

        if (fdCount < expectedFds)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.MissingFd, r, $"{fdCount} fd(s), {expectedFds} expected");
        }
    }

    /// <summary>Reads exactly 8 bytes: a u64 payload.</summary>
    /// <param name="payload">The payload.</param>
    /// <returns>The value.</returns>
    /// <exception cref="VhostUserProtocolException">The payload is shorter than 8 bytes.</exception>
    public static ulong ReadU64(ReadOnlySpan<byte> payload)
    {
        Need(payload, 8);
        return BinaryPrimitives.ReadUInt64LittleEndian(payload);
    }

    /// <summary>Writes exactly 8 bytes: a u64 payload.</summary>
    /// <param name="destination">At least 8 bytes.</param>
    /// <param name="value">The value.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static void WriteU64(Span<byte> destination, ulong value)
    {
        Room(destination, 8);
        BinaryPrimitives.WriteUInt64LittleEndian(destination, value);
    }

    /// <summary>Reads exactly 8 bytes: a vring state.</summary>
    /// <param name="payload">The payload.</param>
    /// <returns>The state.</returns>
    /// <exception cref="VhostUserProtocolException">The payload is too short.</exception>
    public static VhostUserVringState ReadVringState(ReadOnlySpan<byte> payload)
    {
        Need(payload, VhostUserVringState.Length);
        return new VhostUserVringState(BinaryPrimitives.ReadUInt32LittleEndian(payload), BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(4)));
    }

    /// <summary>Writes exactly 8 bytes: a vring state.</summary>
    /// <param name="destination">At least 8 bytes.</param>
    /// <param name="state">The state.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static void WriteVringState(Span<byte> destination, in VhostUserVringState state)
    {
        Room(destination, VhostUserVringState.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, state.Index);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(4), state.Num);
    }

    /// <summary>Reads exactly 40 bytes: a vring address description.</summary>
    /// <param name="payload">The payload.</param>
    /// <returns>The addresses.</returns>
    /// <exception cref="VhostUserProtocolException">The payload is too short.</exception>
    public static VhostUserVringAddress ReadVringAddress(ReadOnlySpan<byte> payload)
    {
        Need(payload, VhostUserVringAddress.Length);
        return new VhostUserVringAddress(
            BinaryPrimitives.ReadUInt32LittleEndian(payload),
            BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(4)),
            BinaryPrimitives.ReadUInt64LittleEndian(payload.Slice(8)),
            BinaryPrimitives.ReadUInt64LittleEndian(payload.Slice(16)),
            BinaryPrimitives.ReadUInt64LittleEndian(payload.Slice(24)),
            BinaryPrimitives.ReadUInt64LittleEndian(payload.Slice(32)));
    }

    /// <summary>Writes exactly 40 bytes: a vring address description.</summary>
    /// <param name="destination">At least 40 bytes.</param>
    /// <param name="address">The addresses.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static void WriteVringAddress(Span<byte> destination, in VhostUserVringAddress address)
    {
        Room(destination, VhostUserVringAddress.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, address.Index);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(4), address.Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(destination.Slice(8), address.DescriptorAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(destination.Slice(16), address.UsedAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(destination.Slice(24), address.AvailableAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(destination.Slice(32), address.LogGuestAddress);
    }

    /// <summary>Reads a memory regions description: <c>nregions</c> (u32), padding (u32), then that many regions.</summary>
    /// <param name="payload">The payload.</param>
    /// <returns>The regions, in message order.</returns>
    /// <exception cref="VhostUserProtocolException">The count is 0 or over <see cref="MaxRegions"/>, or the payload is not 8 + 32 n bytes.</exception>
    public static VhostUserMemoryRegion[] ReadMemoryTable(ReadOnlySpan<byte> payload)
    {
        Need(payload, 8);
        uint n = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        if (n == 0 || n > MaxRegions)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.TooManyRegions, VhostUserRequest.SetMemTable, $"{n} regions");
        }

        ExpectSize(VhostUserRequest.SetMemTable, payload, MemoryTableLength((int)n));
        var regions = new VhostUserMemoryRegion[n];
        for (int i = 0; i < regions.Length; i++)
        {
            regions[i] = ReadRegion(payload.Slice(8 + (VhostUserMemoryRegion.Length * i)));
        }

        return regions;
    }

    /// <summary>Writes a memory regions description (8 + 32 n bytes).</summary>
    /// <param name="destination">At least <see cref="MemoryTableLength"/> bytes.</param>
    /// <param name="regions">1 to 8 regions.</param>
    /// <returns>The number of bytes written.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short or the count is out of range.</exception>
    public static int WriteMemoryTable(Span<byte> destination, ReadOnlySpan<VhostUserMemoryRegion> regions)
    {
        if (regions.Length is 0 or > MaxRegions)
        {
            VhostUserThrowHelper.ThrowArgument(nameof(regions), "A memory table has 1 to 8 regions.");
        }

        int length = MemoryTableLength(regions.Length);
        Room(destination, length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)regions.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(4), 0);
        for (int i = 0; i < regions.Length; i++)
        {
            WriteRegion(destination.Slice(8 + (VhostUserMemoryRegion.Length * i)), regions[i]);
        }

        return length;
    }

    /// <summary>Reads exactly 40 bytes: a single memory region description (8 bytes of padding, then the region).</summary>
    /// <param name="payload">The payload.</param>
    /// <returns>The region.</returns>
    /// <exception cref="VhostUserProtocolException">The payload is too short.</exception>
    public static VhostUserMemoryRegion ReadSingleRegion(ReadOnlySpan<byte> payload)
    {
        Need(payload, SingleRegionLength);
        return ReadRegion(payload.Slice(8));
    }

    /// <summary>Writes exactly 40 bytes: a single memory region description.</summary>
    /// <param name="destination">At least 40 bytes.</param>
    /// <param name="region">The region.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static void WriteSingleRegion(Span<byte> destination, in VhostUserMemoryRegion region)
    {
        Room(destination, SingleRegionLength);
        BinaryPrimitives.WriteUInt64LittleEndian(destination, 0);
        WriteRegion(destination.Slice(8), region);
    }

    /// <summary>Reads the 12 bytes before a config access's bytes, checking the size against the payload.</summary>
    /// <param name="payload">The payload.</param>
    /// <returns>The offset, size and flags.</returns>
    /// <exception cref="VhostUserProtocolException">The size is over 256 or the payload is not 12 + size bytes.</exception>
    public static VhostUserConfigPayload ReadConfig(ReadOnlySpan<byte> payload)
    {
        Need(payload, VhostUserConfigPayload.HeaderLength);
        var config = new VhostUserConfigPayload(
            BinaryPrimitives.ReadUInt32LittleEndian(payload),
            BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(4)),
            BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(8)));
        if (config.Size > MaxConfigSize)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.PayloadTooLarge, VhostUserRequest.GetConfig, $"config access of {config.Size} bytes");
        }

        ExpectSize(VhostUserRequest.GetConfig, payload, config.PayloadLength);
        return config;
    }

    /// <summary>Writes a config access: the 12-byte header and the bytes.</summary>
    /// <param name="destination">At least 12 + <paramref name="bytes"/>.Length bytes.</param>
    /// <param name="offset">The config space offset.</param>
    /// <param name="flags">The flags.</param>
    /// <param name="bytes">The config bytes (at most 256).</param>
    /// <returns>The number of bytes written.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short or <paramref name="bytes"/> too long.</exception>
    public static int WriteConfig(Span<byte> destination, uint offset, uint flags, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxConfigSize)
        {
            VhostUserThrowHelper.ThrowArgument(nameof(bytes), "A config access is at most 256 bytes.");
        }

        int length = VhostUserConfigPayload.HeaderLength + bytes.Length;
        Room(destination, length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, offset);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(4), (uint)bytes.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(8), flags);
        bytes.CopyTo(destination.Slice(VhostUserConfigPayload.HeaderLength));
        return length;
    }

    /// <summary>Reads exactly 16 bytes: a log description.</summary>
    /// <param name="payload">The payload.</param>
    /// <returns>The log description.</returns>
    /// <exception cref="VhostUserProtocolException">The payload is too short.</exception>
    public static VhostUserLog ReadLog(ReadOnlySpan<byte> payload)
    {
        Need(payload, VhostUserLog.Length);
        return new VhostUserLog(BinaryPrimitives.ReadUInt64LittleEndian(payload), BinaryPrimitives.ReadUInt64LittleEndian(payload.Slice(8)));
    }

    /// <summary>Writes exactly 16 bytes: a log description.</summary>
    /// <param name="destination">At least 16 bytes.</param>
    /// <param name="log">The log description.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static void WriteLog(Span<byte> destination, in VhostUserLog log)
    {
        Room(destination, VhostUserLog.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(destination, log.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(destination.Slice(8), log.Offset);
    }

    /// <summary>Reads exactly 24 bytes: an inflight description.</summary>
    /// <param name="payload">The payload.</param>
    /// <returns>The inflight description.</returns>
    /// <exception cref="VhostUserProtocolException">The payload is too short.</exception>
    public static VhostUserInflight ReadInflight(ReadOnlySpan<byte> payload)
    {
        Need(payload, VhostUserInflight.Length);
        return new VhostUserInflight(
            BinaryPrimitives.ReadUInt64LittleEndian(payload),
            BinaryPrimitives.ReadUInt64LittleEndian(payload.Slice(8)),
            BinaryPrimitives.ReadUInt16LittleEndian(payload.Slice(16)),
            BinaryPrimitives.ReadUInt16LittleEndian(payload.Slice(18)));
    }

    /// <summary>Writes exactly 24 bytes: an inflight description (the 4 padding bytes zeroed).</summary>
    /// <param name="destination">At least 24 bytes.</param>
    /// <param name="inflight">The inflight description.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static void WriteInflight(Span<byte> destination, in VhostUserInflight inflight)
    {
        Room(destination, VhostUserInflight.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(destination, inflight.MmapSize);
        BinaryPrimitives.WriteUInt64LittleEndian(destination.Slice(8), inflight.MmapOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(16), inflight.QueueCount);
        BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(18), inflight.QueueSize);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(20), 0);
    }

    /// <summary>Gets whether a request has a reply of its own (not only a <c>REPLY_ACK</c>).</summary>
    /// <param name="request">The request.</param>
    /// <returns>
    /// <see langword="true"/> for the <c>GET_*</c> requests, and for <c>SET_LOG_BASE</c> (its <c>LOG_SHMFD</c>
    /// form, the one this library serves, is answered with a header and no payload).
    /// </returns>
    public static bool HasReply(VhostUserRequest request) => request is
        VhostUserRequest.SetLogBase or VhostUserRequest.GetFeatures or VhostUserRequest.GetProtocolFeatures or VhostUserRequest.GetVringBase or
        VhostUserRequest.GetQueueNum or VhostUserRequest.GetConfig or VhostUserRequest.GetMaxMemSlots or
        VhostUserRequest.GetStatus or VhostUserRequest.GetInflightFd or VhostUserRequest.PostcopyAdvise or
        VhostUserRequest.PostcopyEnd or VhostUserRequest.IotlbMsg or VhostUserRequest.CreateCryptoSession;

    internal static IEnumerable<VhostUserRequest> KnownRequests()
    {
        for (uint r = 1; r <= (uint)VhostUserRequest.GetStatus; r++)
        {
            yield return (VhostUserRequest)r;
        }
    }

    /// <summary>The largest payload of a request, or -1 for an unknown request.</summary>
    internal static int MaxRequestPayload(VhostUserRequest request) => PayloadKindOf(request) switch
    {
        PayloadKind.Unknown => -1,
        PayloadKind.None or PayloadKind.FdOnly => 0,
        PayloadKind.U64 => 8,
        PayloadKind.VringState => VhostUserVringState.Length,
        PayloadKind.VringAddress => VhostUserVringAddress.Length,
        PayloadKind.MemoryTable => MemoryTableLength(MaxRegions),
        PayloadKind.SingleRegion => SingleRegionLength,
        PayloadKind.Config => VhostUserConfigPayload.HeaderLength + MaxConfigSize,
        PayloadKind.Log => VhostUserLog.Length,
        PayloadKind.Inflight => VhostUserInflight.Length,
        _ => MaxPayloadSize,
    };

    private static PayloadKind PayloadKindOf(VhostUserRequest request) => request switch
    {
        VhostUserRequest.GetFeatures or VhostUserRequest.SetOwner or VhostUserRequest.ResetOwner or
        VhostUserRequest.GetProtocolFeatures or VhostUserRequest.GetQueueNum or VhostUserRequest.GetMaxMemSlots or
        VhostUserRequest.GetStatus or VhostUserRequest.ResetDevice or VhostUserRequest.PostcopyAdvise or
        VhostUserRequest.PostcopyListen or VhostUserRequest.PostcopyEnd => PayloadKind.None,
        VhostUserRequest.SetLogFd or VhostUserRequest.SetBackendReqFd or VhostUserRequest.GpuSetSocket => PayloadKind.FdOnly,
        VhostUserRequest.SetFeatures or VhostUserRequest.SetProtocolFeatures or VhostUserRequest.SetVringKick or
        VhostUserRequest.SetVringCall or VhostUserRequest.SetVringErr or VhostUserRequest.SendRarp or
        VhostUserRequest.NetSetMtu or VhostUserRequest.SetStatus or VhostUserRequest.CloseCryptoSession => PayloadKind.U64,
        VhostUserRequest.SetVringNum or VhostUserRequest.SetVringBase or VhostUserRequest.GetVringBase or
        VhostUserRequest.SetVringEnable or VhostUserRequest.SetVringEndian or VhostUserRequest.VringKick => PayloadKind.VringState,
        VhostUserRequest.SetVringAddr => PayloadKind.VringAddress,
        VhostUserRequest.SetMemTable => PayloadKind.MemoryTable,
        VhostUserRequest.AddMemReg or VhostUserRequest.RemMemReg => PayloadKind.SingleRegion,
        VhostUserRequest.GetConfig or VhostUserRequest.SetConfig => PayloadKind.Config,
        VhostUserRequest.SetLogBase => PayloadKind.Log,
        VhostUserRequest.GetInflightFd or VhostUserRequest.SetInflightFd => PayloadKind.Inflight,
        VhostUserRequest.IotlbMsg or VhostUserRequest.CreateCryptoSession => PayloadKind.Other,
        _ => PayloadKind.Unknown,
    };

    private static VhostUserMemoryRegion ReadRegion(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(s),
        BinaryPrimitives.ReadUInt64LittleEndian(s.Slice(8)),
        BinaryPrimitives.ReadUInt64LittleEndian(s.Slice(16)),
        BinaryPrimitives.ReadUInt64LittleEndian(s.Slice(24)));

    private static void WriteRegion(Span<byte> d, in VhostUserMemoryRegion region)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(d, region.GuestAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(d.Slice(8), region.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(d.Slice(16), region.UserAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(d.Slice(24), region.MmapOffset);
    }

    private static void ExpectSize(VhostUserRequest request, ReadOnlySpan<byte> payload, int size)
    {
        if (payload.Length != size)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.WrongPayloadSize, request, $"payload of {payload.Length} bytes, expected {size}");
        }
    }

    private static void Need(ReadOnlySpan<byte> payload, int size)
    {
        if (payload.Length < size)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.WrongPayloadSize, VhostUserRequest.None, $"payload of {payload.Length} bytes, at least {size} needed");
        }
    }

    private static void Room(Span<byte> destination, int size)
    {
        if (destination.Length < size)
        {
            VhostUserThrowHelper.ThrowArgument(nameof(destination), $"At least {size} bytes are needed.");
        }
    }

    private enum PayloadKind
    {
        Unknown,
        None,
        FdOnly,
        U64,
        VringState,
        VringAddress,
        MemoryTable,
        SingleRegion,
        Config,
        Log,
        Inflight,
        Other,
    }
}
