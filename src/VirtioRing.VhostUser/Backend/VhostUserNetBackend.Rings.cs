using System;
using System.Buffers.Binary;
using VirtioRing.Linux;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Transport;

namespace VirtioRing.VhostUser.Backend;

/// <summary>Vring setup, start and stop, memory table swaps, and binding to the device (under the lock).</summary>
public sealed partial class VhostUserNetBackend
{
    private void SetVringNum(VhostUserVringState state)
    {
        VhostUserVring ring = RingAt(VhostUserRequest.SetVringNum, state.Index);
        RequireStopped(VhostUserRequest.SetVringNum, ring);

        // CVE-2019-14818: the size is bounded before anything is sized from it.
        if (state.Num is 0 or > SplitQueueLayout.MaxSize)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidValue, VhostUserRequest.SetVringNum, $"queue size {state.Num}, 1 to {SplitQueueLayout.MaxSize} allowed");
        }

        ring.Num = (int)state.Num;
    }

    private void SetVringAddr(VhostUserVringAddress address)
    {
        VhostUserVring ring = RingAt(VhostUserRequest.SetVringAddr, address.Index);
        if ((address.Flags & ~VhostUserVringAddress.LogFlag) != 0)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidValue, VhostUserRequest.SetVringAddr, $"flags 0x{address.Flags:x}: only VHOST_VRING_F_LOG (bit 0) is defined");
        }

        if (ring.Started)
        {
            VhostUserVringAddress current = ring.Address!.Value;
            if (current.DescriptorAddress != address.DescriptorAddress || current.AvailableAddress != address.AvailableAddress || current.UsedAddress != address.UsedAddress)
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.OutOfOrder, VhostUserRequest.SetVringAddr, $"vring {ring.Index} moved while started");
            }
        }

        bool logChanged = ring.Started && (ring.Address!.Value.Flags != address.Flags || ring.Address.Value.LogGuestAddress != address.LogGuestAddress);
        ring.Address = address;
        if (logChanged)
        {
            ApplyRings();   // QEMU sets VHOST_VRING_F_LOG on started rings when a migration starts
        }
    }

    private void SetVringBase(VhostUserVringState state)
    {
        VhostUserVring ring = RingAt(VhostUserRequest.SetVringBase, state.Index);
        RequireStopped(VhostUserRequest.SetVringBase, ring);
        ring.Base = state.Num;
    }

    private void SetVringKick(VhostUserMessage message)
    {
        ulong v = VhostUserCodec.ReadU64(message.Payload);
        VhostUserVring ring = RingAt(VhostUserRequest.SetVringKick, (uint)(v & VhostUserCodec.VringIndexMask));
        EventFd? kick = (v & VhostUserCodec.VringNoFdFlag) != 0 ? null : TakeEventFd(message, VhostUserRequest.SetVringKick);
        UnwatchKick(ring);
        RetireKick(ring.Kick);
        ring.Kick = kick;
        if (kick is null)
        {
            // No fd means polling, which this back-end does not do: the ring stops (its position is kept).
            if (ring.Started)
            {
                ring.Base = SaveBase(ring);
                ring.Queue = null;
                ApplyRings();
            }

            return;
        }

        if (!ring.Started)
        {
            if (!_featuresSet)
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.OutOfOrder, VhostUserRequest.SetVringKick, $"vring {ring.Index} kicked before SET_FEATURES");
            }

            if (ring.Num == 0 || ring.Address is null)
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.OutOfOrder, VhostUserRequest.SetVringKick, $"vring {ring.Index} kicked before its size and address were set");
            }

            if (_table is null)
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.OutOfOrder, VhostUserRequest.SetVringKick, $"vring {ring.Index} kicked before a memory table was set");
            }

            ring.Queue = CreateQueue(ring, _table);
        }

        WatchKick(ring);
        ApplyRings();
        Device.Kick(ring.Index);   // look at what the driver made available before this start
    }

    private uint GetVringBase(VhostUserVring ring)
    {
        if (!ring.Started)
        {
            return ring.Base;
        }

        Device.Stop();
        uint value = SaveBase(ring);
        ring.Base = value;
        StopRing(ring);
        ApplyRings();
        return value;
    }

    /// <summary>
    /// The ring's position as <c>GET_VRING_BASE</c> reports it (the device is stopped). Split: the
    /// next avail index, less the chains still held (the engine holds only the last ones it popped: a
    /// receive writer's unfilled buffers, a transmit chain for a busy backend), so a restart offers
    /// them again instead of losing them. Packed: bits 0–14 the next descriptor, bit 15 the driver
    /// wrap counter, bits 16–30 the next used slot, bit 31 the device wrap counter. Held chains being
    /// the last popped, their descriptors are exactly the slots from the used position to the avail one
    /// (no used element has been written over them), so with chains held the avail half is rewound to
    /// the used half and the restarted ring reads them again.
    /// </summary>
    private static uint SaveBase(VhostUserVring ring)
    {
        IDeviceQueue queue = ring.Queue!;
        QueueState s = queue.SaveState();
        if (queue is PackedDeviceQueue)
        {
            uint used = (uint)(s.NextUsed & 0x7fff) | (s.UsedWrapCounter ? 0x8000u : 0u);
            uint avail = queue.InFlight > 0 ? used : (uint)(s.NextAvail & 0x7fff) | (s.AvailWrapCounter ? 0x8000u : 0u);
            return avail | (used << 16);
        }

        return unchecked((ushort)(s.NextAvail - queue.InFlight));
    }

    private IDeviceQueue CreateQueue(VhostUserVring ring, VhostUserMemoryTable table)
    {
        const VhostUserRequest R = VhostUserRequest.SetVringKick;
        bool packed = (Device.NegotiatedFeatures & NetFeatures.RingPacked) != 0;
        int num = ring.Num;
        VhostUserVringAddress a = ring.Address!.Value;
        ulong descLength, driverLength, deviceLength;
        if (packed)
        {
            if (!PackedQueueLayout.IsValidSize(num))
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidValue, R, $"packed queue size {num}");
            }

            descLength = PackedQueueLayout.DescriptorRingBytes(num);
            driverLength = PackedQueueLayout.EventSuppressionBytes;
            deviceLength = PackedQueueLayout.EventSuppressionBytes;
        }
        else
        {
            if (!SplitQueueLayout.IsValidSize(num))
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidValue, R, $"split queue size {num} is not a power of two");
            }

            descLength = SplitQueueLayout.DescriptorTableBytes(num);
            driverLength = SplitQueueLayout.AvailableRingBytes(num);
            deviceLength = SplitQueueLayout.UsedRingBytes(num);
        }

        ulong desc = Translate(table, ring, a.DescriptorAddress, descLength, "descriptor");
        ulong driver = Translate(table, ring, a.AvailableAddress, driverLength, "driver (available)");
        ulong device = Translate(table, ring, a.UsedAddress, deviceLength, "device (used)");
        IDeviceQueue queue;
        try
        {
            queue = packed
                ? new PackedDeviceQueue(table.Memory, new PackedQueueLayout(num, new GuestAddress(desc), new GuestAddress(driver), new GuestAddress(device)), Device.QueueFeatures)
                : new SplitDeviceQueue(table.Memory, new SplitQueueLayout(num, new GuestAddress(desc), new GuestAddress(driver), new GuestAddress(device)), Device.QueueFeatures);
        }
        catch (ArgumentException e)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadRingAddress, R, $"vring {ring.Index}: {e.Message}");
            return null;
        }

        if (queue.IsBroken)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadRingAddress, R, $"vring {ring.Index}: {queue.Fault}");
        }

        try
        {
            queue.RestoreState(RestoredState(ring, table, packed, device));
        }
        catch (ArgumentException e)
        {
            // E.g. a packed base whose used position is more than a ring ahead of or behind its avail position.
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidValue, VhostUserRequest.SetVringBase, $"vring {ring.Index} base 0x{ring.Base:x}: {e.Message}");
        }

        ring.Areas = (desc, driver, device);
        return queue;
    }

    private QueueState RestoredState(VhostUserVring ring, VhostUserMemoryTable table, bool packed, ulong usedRing)
    {
        uint value = ring.Base;
        if (packed)
        {
            // DPDK's virtio-user front-end (and DPDK's own vhost library, which reads only these bits) sends a
            // 16-bit packed base: bits 0-14 the next descriptor, bit 15 the driver wrap counter, nothing above
            // (0x8000 at every start). Read as 32 bits that is a used position of 0 with a device wrap counter
            // of 0: the device would write used descriptors in the wrong phase, the driver would never see
            // them, and its next lap would look like a re-exposed ring (TooManyInFlight). So zero bits 16-31
            // mean "not supplied": used = avail, as rte_vhost does. QEMU always sends both halves (0x80008000
            // at a fresh start: wrap counters start at 1); the one full state this misreads is a used position
            // of exactly slot 0 with the device wrap counter 0, which QEMU reaches only after an odd number of
            // used-ring laps ending at slot 0.
            if ((value >> 16) == 0)
            {
                value |= value << 16;
            }

            ushort avail = (ushort)(value & 0x7fff);
            ushort used = (ushort)((value >> 16) & 0x7fff);
            if (avail >= ring.Num || used >= ring.Num)
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidValue, VhostUserRequest.SetVringBase, $"packed base 0x{value:x} points past the ring of {ring.Num}");
            }

            return new QueueState(avail, used, (value & 0x8000) != 0, (value & 0x8000_0000) != 0);
        }

        if (value > ushort.MaxValue)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.InvalidValue, VhostUserRequest.SetVringBase, $"split base 0x{value:x}: bits 16-31 are reserved");
        }

        // The used index the driver sees is in guest memory (Linux vhost and DPDK read it too). Without
        // IN_ORDER (whose used elements may each stand for several chains) every consumed chain has one
        // used element, so it is also where the avail position should be: a base that differs means
        // chains were in flight when the rings stopped; they are offered again rather than lost.
        Span<byte> idx = stackalloc byte[2];
        table.Memory.Read(new GuestAddress(usedRing + 2), idx);
        ushort usedIdx = BinaryPrimitives.ReadUInt16LittleEndian(idx);
        bool inOrder = (Device.QueueFeatures & VirtqueueFeatures.InOrder) != 0;
        if (!inOrder && usedIdx != value)
        {
            Log.BaseMismatch(_logger, Device.Name, ring.Index, (int)value, usedIdx);
            return new QueueState(usedIdx, usedIdx);
        }

        return new QueueState((ushort)value, usedIdx);
    }

    private static ulong Translate(VhostUserMemoryTable table, VhostUserVring ring, ulong userAddress, ulong length, string area)
    {
        if (!table.TryTranslateUser(userAddress, length, out ulong guest))
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadRingAddress, VhostUserRequest.SetVringKick, $"vring {ring.Index}: the {area} area at user 0x{userAddress:x} ({length} bytes) is not inside one memory region");
        }

        return guest;
    }

    private static void RequireStopped(VhostUserRequest request, VhostUserVring ring)
    {
        if (ring.Started)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.OutOfOrder, request, $"vring {ring.Index} is started (GET_VRING_BASE stops it)");
        }
    }

    private void WatchKick(VhostUserVring ring)
    {
        EpollWorkerSignal signal = Device.GetPair(ring.Index >> 1).Signal as EpollWorkerSignal
            ?? (_kickLoop ??= new KickLoop("vhost-user kicks " + Device.Name)).Signal;
        try
        {
            signal.Add(ring.Kick!, new DeviceKick(Device, ring.Index));
        }
        catch (LinuxException e)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadFileDescriptor, VhostUserRequest.SetVringKick, $"the kick fd cannot be watched: {e.Message}");
        }

        ring.KickSignal = signal;
    }

    private static void UnwatchKick(VhostUserVring ring)
    {
        if (ring.KickSignal is { } signal && ring.Kick is { } kick)
        {
            try
            {
                signal.Remove(kick.Handle);
            }
            catch (ObjectDisposedException)
            {
                // The device's signals were disposed with it: nothing is watched any more.
            }
        }

        ring.KickSignal = null;
    }

    /// <summary>Stops a ring: it loses its queue and kick fd (its base and other settings stay). The caller applies.</summary>
    private static void StopRing(VhostUserVring ring)
    {
        ring.Queue = null;
        UnwatchKick(ring);
        RetireKick(ring.Kick);
        ring.Kick = null;
    }

    /// <summary>
    /// Closes a kick eventfd after the grace period: an <see cref="EpollWorkerSignal.Wait"/> that
    /// reported it just before it was removed may still consume it from its snapshot of registrations,
    /// and would fault on a closed handle.
    /// </summary>
    private static void RetireKick(EventFd? kick)
    {
        if (kick is not null)
        {
            DeferredRelease.Schedule(kick);
        }
    }

    private void SwapTable(VhostUserMemoryTable? table, VhostUserRequest request)
    {
        if (table is not null && ReferenceEquals(table, _table))
        {
            return;   // a region counted once more or once less: nothing moved, the rings go on
        }

        Device.Stop();
        WarnIfUnsealed(table is null || table.AllSealed, request);

        VhostUserMemoryTable? old = _table;
        _table = table;
        if (old is not null)
        {
            _retired.Add(old);   // chains held by the queues may still point into it
        }

        foreach (VhostUserVring ring in _rings)
        {
            if (ring.Queue is not { } queue)
            {
                continue;
            }

            // A started ring keeps its guest-physical layout; the front-end may remap memory, not move rings.
            VhostUserVringAddress a = ring.Address!.Value;
            bool same = table is not null
                && table.TryTranslateUser(a.DescriptorAddress, 1, out ulong desc) && desc == ring.Areas.Descriptor
                && table.TryTranslateUser(a.AvailableAddress, 1, out ulong driver) && driver == ring.Areas.Driver
                && table.TryTranslateUser(a.UsedAddress, 1, out ulong device) && device == ring.Areas.Device;
            if (!same)
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadRingAddress, request, $"the new table moves or drops started vring {ring.Index}");
            }

            queue.Memory = table!.Memory;
            if (queue.IsBroken)
            {
                VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadRingAddress, request, $"vring {ring.Index} is not wholly inside the new table ({queue.Fault})");
            }
        }

        if (_retired.Count > MaxRetiredTables)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.OutOfOrder, request, "too many memory tables replaced while buffers are held in them");
        }

        ApplyRings();
    }

    /// <summary>
    /// Tells the device what the rings are now: stops it, binds every ring whose queue changed (a
    /// stopped ring unbinds, which forgets what the engine held in it), sets each ring's enable flag,
    /// releases memory tables no held chain points into, and starts the leading pairs whose two
    /// rings are started and enabled.
    /// </summary>
    private void ApplyRings()
    {
        bool implicitEnable = (_acked & ProtocolFeaturesBit) == 0;
        foreach (VhostUserVring ring in _rings)
        {
            ring.Enabled = ring.Started && (implicitEnable || ring.EnableFlag);
        }

        int active = 0;
        while (active < Device.MaxQueuePairs && _rings[2 * active].Enabled && _rings[(2 * active) + 1].Enabled)
        {
            active++;
        }

        Device.Stop();
        ApplyWriteLogs();
        foreach (VhostUserVring ring in _rings)
        {
            if (!ReferenceEquals(ring.Bound, ring.Queue))
            {
                Device.SetQueue(ring.Index, ring.Queue, ring.Queue is null ? null : ring.Call);
                ring.Bound = ring.Queue;
            }

            if (ring.Started)
            {
                Device.SetQueueEnabled(ring.Index, ring.Enabled);
            }
        }

        ReleaseRetiredTables(force: false);
        if (active > 0 && _featuresSet)
        {
            Device.SetActivePairs(active);
            Device.Start();
        }
    }

    /// <summary>
    /// Gives each started ring's queue the log its guest writes are marked in while logging
    /// (<see cref="IsLoggingLocked"/>), or none. The device is stopped: no worker drives a queue.
    /// </summary>
    private void ApplyWriteLogs()
    {
        VhostUserDirtyLog? log = IsLoggingLocked ? _log : null;
        foreach (VhostUserVring ring in _rings)
        {
            if (ring.Queue is not { } queue)
            {
                continue;
            }

            GuestWriteLog? writeLog = null;
            if (log is not null)
            {
                // Used ring writes go to log_guest_addr with VHOST_VRING_F_LOG (vhost-user "Migration"); without the
                // flag the ring's own guest-physical address is marked, which is never less than asked for.
                VhostUserVringAddress a = ring.Address!.Value;
                ulong deviceArea = (a.Flags & VhostUserVringAddress.LogFlag) != 0 ? a.LogGuestAddress : ring.Areas.Device;
                writeLog = queue switch
                {
                    SplitDeviceQueue { WriteLog: VringWriteLog current } when current.Log == log && current.DeviceArea == deviceArea => current,
                    PackedDeviceQueue { WriteLog: VringWriteLog current } when current.Log == log && current.DeviceArea == deviceArea => current,
                    _ => new VringWriteLog(log, deviceArea),
                };
            }

            switch (queue)
            {
                case SplitDeviceQueue split:
                    split.WriteLog = writeLog;
                    break;
                case PackedDeviceQueue packed:
                    packed.WriteLog = writeLog;
                    break;
            }
        }
    }

    /// <summary>Replaces the dirty log (<c>SET_LOG_BASE</c>); the old one is unmapped after the grace period, once no queue marks it.</summary>
    /// <summary>Warns, once per session, that the front-end could truncate memory the backend maps (memory tables or the log).</summary>
    private void WarnIfUnsealed(bool isSealed, VhostUserRequest request)
    {
        if (!isSealed && !_unsealedWarned)
        {
            _unsealedWarned = true;
            Log.UnsealedMemory(_logger, Device.Name, request);
        }
    }

    private void SetLogBase(VhostUserDirtyLog log)
    {
        VhostUserDirtyLog? old = _log;
        _log = log;
        ApplyRings();   // stops the device and moves every queue to the new log
        if (old is not null)
        {
            DeferredRelease.Schedule(old);
        }
    }

    private void ReleaseRetiredTables(bool force)
    {
        if (_retired.Count == 0)
        {
            return;
        }

        if (!force)
        {
            foreach (VhostUserVring ring in _rings)
            {
                if (ring.Queue is { InFlight: > 0 })
                {
                    return;
                }
            }
        }

        foreach (VhostUserMemoryTable t in _retired)
        {
            t.Dispose();
        }

        _retired.Clear();
    }

    private void ResetDevice()
    {
        Device.Reset();
        foreach (VhostUserVring ring in _rings)
        {
            ring.Bound = null;
        }
    }

    /// <summary>Forgets the session: rings stopped, device reset (no worker touches guest memory any more), then fds closed and memory unmapped.</summary>
    private void EndSessionLocked()
    {
        foreach (VhostUserVring ring in _rings)
        {
            StopRing(ring);
        }

        ResetDevice();
        foreach (VhostUserVring ring in _rings)
        {
            ring.Call.Exchange(null)?.Dispose();
            ring.Err?.Dispose();
            ring.Err = null;
            ring.Num = 0;
            ring.Address = null;
            ring.Base = 0;
            ring.EnableFlag = false;
            ring.Enabled = false;
            ring.Areas = default;
        }

        _table?.Dispose();
        _table = null;
        ReleaseRetiredTables(force: true);
        if (_log is not null)
        {
            DeferredRelease.Schedule(_log);   // a worker may still be between its last round and its park
            _log = null;
        }

        _protocol = VhostUserProtocolFeatures.None;
        _acked = 0;
        _featuresSet = false;
        _unsealedWarned = false;
        _status = 0;
    }
}
