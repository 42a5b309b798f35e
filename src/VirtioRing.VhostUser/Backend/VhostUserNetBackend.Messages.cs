using System;
using System.IO;
using VirtioRing.Linux;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Transport;

namespace VirtioRing.VhostUser.Backend;

/// <summary>The message handlers (one per request; under the lock, on the session thread).</summary>
public sealed partial class VhostUserNetBackend
{
    private void Handle(VhostUserChannel channel, VhostUserMessage message)
    {
        VhostUserHeader header = message.Header;
        VhostUserCodec.ValidateRequest(header, message.Payload, message.FdCount, _options.MaxMemorySlots);
        VhostUserRequest r = header.Request;
        ReadOnlySpan<byte> payload = message.Payload;
        if (_logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
        {
            Log.Request(_logger, Device.Name, r);
        }

        bool ok = true;
        switch (r)
        {
            case VhostUserRequest.GetFeatures:
                ReplyU64(channel, r, OfferedFeatures);
                return;
            case VhostUserRequest.SetFeatures:
                SetFeatures(VhostUserCodec.ReadU64(payload));
                break;
            case VhostUserRequest.GetProtocolFeatures:
                ReplyU64(channel, r, (ulong)_offeredProtocol);
                return;
            case VhostUserRequest.SetProtocolFeatures:
                {
                    ulong v = VhostUserCodec.ReadU64(payload);
                    if ((v & ~(ulong)_offeredProtocol) != 0)
                    {
                        VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidValue, r, $"protocol features 0x{v:x} include bits not offered (0x{(ulong)_offeredProtocol:x})");
                    }

                    _protocol = (VhostUserProtocolFeatures)v;
                    break;
                }

            case VhostUserRequest.SetOwner:
                break;
            case VhostUserRequest.ResetOwner:
                // Deprecated: "back-ends either ignore this message, or use it to disable all rings".
                foreach (VhostUserVring ring in _rings)
                {
                    StopRing(ring);
                }

                ApplyRings();
                break;
            case VhostUserRequest.GetQueueNum:
                ReplyU64(channel, r, (ulong)Device.MaxQueuePairs);
                return;
            case VhostUserRequest.GetMaxMemSlots:
                RequireProtocol(r, VhostUserProtocolFeatures.ConfigureMemSlots);
                ReplyU64(channel, r, (ulong)_options.MaxMemorySlots);
                return;
            case VhostUserRequest.SetMemTable:
                SetMemTable(message);
                break;
            case VhostUserRequest.AddMemReg:
                {
                    RequireProtocol(r, VhostUserProtocolFeatures.ConfigureMemSlots);
                    VhostUserMemoryRegion region = VhostUserCodec.ReadSingleRegion(payload);
                    using SafeFileDescriptor fd = message.TakeFd(0);
                    SwapTable(VhostUserMemoryTable.WithRegion(_table, region, fd, _options.MaxMemorySlots, _options.RequireSealedMemory), r);
                    break;
                }

            case VhostUserRequest.RemMemReg:
                {
                    RequireProtocol(r, VhostUserProtocolFeatures.ConfigureMemSlots);
                    VhostUserMemoryRegion region = VhostUserCodec.ReadSingleRegion(payload);
                    SwapTable(VhostUserMemoryTable.WithoutRegion(_table, region), r);
                    break;   // a stray fd is closed with the message, unused
                }

            case VhostUserRequest.SetLogBase:
                {
                    RequireProtocol(r, VhostUserProtocolFeatures.LogShmfd);
                    VhostUserLog log = VhostUserCodec.ReadLog(payload);
                    VhostUserDirtyLog mapped;
                    using (SafeFileDescriptor fd = message.TakeFd(0))
                    {
                        mapped = VhostUserDirtyLog.Map(log, fd, _options.RequireSealedMemory);
                    }

                    WarnIfUnsealed(mapped.IsSealed, r);

                    SetLogBase(mapped);

                    // The reply the front-end waits for with LOG_SHMFD: a header, no payload (QEMU reads it, DPDK sends it so).
                    // It already is a reply, so NEED_REPLY adds no second one.
                    channel.SendReply(r, default);
                    return;
                }

            case VhostUserRequest.SetLogFd:
                // "An optional message with an eventfd ... to inform the front-end that the log has been
                // modified": this back-end does not signal it (QEMU reads the bitmap at each sync), so the
                // fd is closed with the message, as DPDK does.
                break;
            case VhostUserRequest.SetVringNum:
                SetVringNum(VhostUserCodec.ReadVringState(payload));
                break;
            case VhostUserRequest.SetVringAddr:
                SetVringAddr(VhostUserCodec.ReadVringAddress(payload));
                break;
            case VhostUserRequest.SetVringBase:
                SetVringBase(VhostUserCodec.ReadVringState(payload));
                break;
            case VhostUserRequest.GetVringBase:
                {
                    VhostUserVringState state = VhostUserCodec.ReadVringState(payload);
                    uint value = GetVringBase(RingAt(r, state.Index));
                    Span<byte> reply = stackalloc byte[VhostUserVringState.Length];
                    VhostUserCodec.WriteVringState(reply, new VhostUserVringState(state.Index, value));
                    channel.SendReply(r, reply);
                    return;
                }

            case VhostUserRequest.SetVringKick:
                SetVringKick(message);
                break;
            case VhostUserRequest.SetVringCall:
                {
                    ulong v = VhostUserCodec.ReadU64(payload);
                    VhostUserVring ring = RingAt(r, (uint)(v & VhostUserCodec.VringIndexMask));
                    EventFd? call = (v & VhostUserCodec.VringNoFdFlag) != 0 ? null : TakeEventFd(message, r);
                    ring.Call.Exchange(call)?.Dispose();
                    break;
                }

            case VhostUserRequest.SetVringErr:
                {
                    ulong v = VhostUserCodec.ReadU64(payload);
                    VhostUserVring ring = RingAt(r, (uint)(v & VhostUserCodec.VringIndexMask));
                    EventFd? err = (v & VhostUserCodec.VringNoFdFlag) != 0 ? null : TakeEventFd(message, r);
                    ring.Err?.Dispose();
                    ring.Err = err;
                    break;
                }

            case VhostUserRequest.SetVringEnable:
                {
                    VhostUserVringState state = VhostUserCodec.ReadVringState(payload);
                    VhostUserVring ring = RingAt(r, state.Index);
                    if (state.Num > 1)
                    {
                        VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidValue, r, $"enable value {state.Num}, 0 or 1 expected");
                    }

                    ring.EnableFlag = state.Num == 1;
                    ApplyRings();
                    break;
                }

            case VhostUserRequest.GetConfig:
                {
                    RequireProtocol(r, VhostUserProtocolFeatures.Config);
                    VhostUserConfigPayload config = VhostUserCodec.ReadConfig(payload);
                    Span<byte> bytes = stackalloc byte[(int)config.Size];
                    Span<byte> reply = stackalloc byte[config.PayloadLength];
                    if (Device.Config.ReadAt(config.Offset, bytes, NetConfigSpace.SizeFor(Device.OfferedFeatures)))
                    {
                        VhostUserCodec.WriteConfig(reply, config.Offset, config.Flags, bytes);
                        channel.SendReply(r, reply);
                    }
                    else
                    {
                        LogRefused(r, config);
                        channel.SendReply(r, default);   // "zero length of payload to indicate an error"
                    }

                    return;
                }

            case VhostUserRequest.SetConfig:
                {
                    RequireProtocol(r, VhostUserProtocolFeatures.Config);
                    VhostUserConfigPayload config = VhostUserCodec.ReadConfig(payload);
                    ReadOnlySpan<byte> bytes = config.Bytes(payload);

                    // Every virtio-net field is read-only for a 1.x driver (§5.1.4.2): only a live-migration
                    // write, or a legacy driver's write of mac, is taken.
                    bool allowed = config.Flags == VhostUserConfigPayload.LiveMigrationFlag || NetConfigSpace.IsLegacyDriverWritable(config.Offset, bytes.Length);
                    ok = allowed && Device.Config.WriteAt(config.Offset, bytes, NetConfigSpace.SizeFor(Device.OfferedFeatures));
                    if (!ok)
                    {
                        LogRefused(r, config);
                    }

                    break;
                }

            case VhostUserRequest.SendRarp:
                RequireProtocol(r, VhostUserProtocolFeatures.Rarp);
                SendRarp(MacAddress.Read(payload.Slice(0, 6)));
                break;
            case VhostUserRequest.SetStatus:
                {
                    RequireProtocol(r, VhostUserProtocolFeatures.Status);
                    ulong v = VhostUserCodec.ReadU64(payload);
                    if (v > byte.MaxValue)
                    {
                        VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidValue, r, $"status 0x{v:x} does not fit a byte");
                    }

                    // Status 0 is not a ring reset here: QEMU sends it before GET_VRING_BASE, which must still answer the positions.
                    _status = (byte)v;
                    break;
                }

            case VhostUserRequest.GetStatus:
                RequireProtocol(r, VhostUserProtocolFeatures.Status);
                ReplyU64(channel, r, (ulong)(_status | (Device.NeedsReset ? DeviceNeedsReset : 0)));
                return;
            default:
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.UnsupportedRequest, r, "not supported by this back-end");
                return;
        }

        if (header.NeedsReply && (_protocol & VhostUserProtocolFeatures.ReplyAck) != 0)
        {
            ReplyU64(channel, r, ok ? 0UL : 1UL);
        }
    }

    private void LogRefused(VhostUserRequest request, in VhostUserConfigPayload config)
    {
        Log.ConfigRefused(_logger, Device.Name, request, config.Offset, config.Size, config.Flags);
    }

    private static void ReplyU64(VhostUserChannel channel, VhostUserRequest request, ulong value)
    {
        Span<byte> reply = stackalloc byte[8];
        VhostUserCodec.WriteU64(reply, value);
        channel.SendReply(request, reply);
    }

    private void RequireProtocol(VhostUserRequest request, VhostUserProtocolFeatures feature)
    {
        if ((_protocol & feature) == 0)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.UnsupportedRequest, request, $"protocol feature {feature} was not negotiated");
        }
    }

    private VhostUserVring RingAt(VhostUserRequest request, uint index)
    {
        // CVE-2020-10723: a vring index from the front-end checked against the queue count.
        if (index >= (uint)_rings.Length)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadQueueIndex, request, $"vring {index}, the device has {_rings.Length}");
        }

        return _rings[index];
    }

    /// <summary>Takes the message's fd as an eventfd; anything else (a file, a socket, a pipe) is refused.</summary>
    private static EventFd TakeEventFd(VhostUserMessage message, VhostUserRequest request)
    {
        SafeFileDescriptor fd = message.TakeFd(0);
        try
        {
            string? target = new FileInfo("/proc/self/fd/" + fd.Fd.ToString(System.Globalization.CultureInfo.InvariantCulture)).LinkTarget;
            if (target != "anon_inode:[eventfd]")
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadFileDescriptor, request, $"the fd is not an eventfd ({target})");
            }

            return EventFd.FromHandle(fd);
        }
        catch (IOException e)
        {
            fd.Dispose();
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadFileDescriptor, request, e.Message);
            return null;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    private void SetFeatures(ulong value)
    {
        if ((value & ~OfferedFeatures) != 0)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidFeatures, VhostUserRequest.SetFeatures, $"features 0x{value:x} include bits not offered (0x{OfferedFeatures:x})");
        }

        if (_featuresSet && ((_acked ^ value) & ~(ProtocolFeaturesBit | LogAllFeatureBit)) == 0)
        {
            // QEMU sends SET_FEATURES again at each start, and toggles VHOST_F_LOG_ALL while running at the
            // start and end of a live migration: the device is unchanged, only the rings' logs change.
            bool toggled = ((_acked ^ value) & LogAllFeatureBit) != 0;
            _acked = value;
            if (toggled)
            {
                ApplyRings();
            }

            return;
        }

        foreach (VhostUserVring ring in _rings)
        {
            if (ring.Started)
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.OutOfOrder, VhostUserRequest.SetFeatures, $"features changed while vring {ring.Index} is started");
            }
        }

        ResetDevice();
        var net = (NetFeatures)(value & ~(ProtocolFeaturesBit | LogAllFeatureBit));
        NetFeatureCheck check = Device.SetDriverFeatures(net);
        if (!check.IsValid && (net & NetFeatures.CtrlVq) == 0 && (Device.OfferedFeatures & NetFeatures.CtrlVq) != 0)
        {
            // A vhost-user front-end serves the control queue itself and may leave CTRL_VQ out of what it
            // acknowledges to the back-end while acknowledging features that depend on it (MQ, RSS, CTRL_*):
            // the dependency holds at the front-end, so take the features as if CTRL_VQ were set.
            check = Device.SetDriverFeatures(net | NetFeatures.CtrlVq);
        }

        if (!check.IsValid)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidFeatures, VhostUserRequest.SetFeatures, check.ToString());
        }

        _acked = value;
        _featuresSet = true;
    }

    private void SetMemTable(VhostUserMessage message)
    {
        VhostUserMemoryRegion[] regions = VhostUserCodec.ReadMemoryTable(message.Payload);
        var fds = new SafeFileDescriptor[regions.Length];
        try
        {
            for (int i = 0; i < fds.Length; i++)
            {
                fds[i] = message.TakeFd(i);
            }

            SwapTable(VhostUserMemoryTable.Create(VhostUserRequest.SetMemTable, regions, fds, _options.RequireSealedMemory), VhostUserRequest.SetMemTable);
        }
        finally
        {
            foreach (SafeFileDescriptor? fd in fds)
            {
                fd?.Dispose();   // each mapping holds its own duplicate
            }
        }
    }

    /// <summary>Builds and delivers the RARP frame a migrated guest's switch ports learn its MAC from.</summary>
    private void SendRarp(MacAddress mac)
    {
        Span<byte> frame = stackalloc byte[60];
        frame.Clear();
        MacAddress.Broadcast.WriteTo(frame);
        mac.WriteTo(frame.Slice(6));
        frame[12] = 0x80;   // EtherType 0x8035: RARP
        frame[13] = 0x35;
        frame[15] = 1;      // htype: Ethernet
        frame[16] = 0x08;   // ptype: IPv4
        frame[18] = 6;      // hlen
        frame[19] = 4;      // plen
        frame[21] = 3;      // op: reverse request
        mac.WriteTo(frame.Slice(22));   // sha; spa stays 0.0.0.0
        mac.WriteTo(frame.Slice(32));   // tha; tpa stays 0.0.0.0

        // The backend takes transmits for a queue from one thread at a time: park the workers around it.
        bool running = Device.IsRunning;
        Device.Stop();
        try
        {
            INetBackend backend = Device.Backend;
            backend.Transmit(0, NetFrame.FromSpan(default, frame));
            backend.FlushTransmit(0);
        }
        finally
        {
            if (running)
            {
                Device.Start();
            }
        }
    }
}
