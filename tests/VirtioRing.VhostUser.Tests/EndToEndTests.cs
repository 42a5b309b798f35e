using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Driver;
using VirtioRing.VhostUser.Backend;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.VhostUser.Tests;

[Collection(SerialCollection.Name)]
public sealed class EndToEndTests
{
    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public void Serve_QemuStartSequenceThenTraffic_FramesComeBackByteForByte(bool packed, bool epollWorkers)
    {
        using var harness = new BackendHarness(epollWorkers: epollWorkers);
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed);
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            Negotiate(frontend, guest);
            guest.StartRings(frontend);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            Assert.True(harness.Device.IsRunning);
            Echo(guest, 0, 300);
        }

        VhostUserSessionResult result = BackendHarness.Finish(session);
        Assert.Equal(VhostUserSessionEnd.PeerClosed, result.End);
        Assert.False(harness.Device.IsRunning);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GetVringBase_StopThenRestartFromBase_NoFrameLostOrDuplicated(bool packed)
    {
        using var harness = new BackendHarness();
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed);
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            Negotiate(frontend, guest);
            guest.StartRings(frontend);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            int next = 0;
            for (int round = 0; round < 3; round++)
            {
                next = Echo(guest, next, 100);

                // Migration-style stop: QEMU disables the rings and asks each for its base; later it starts them again from it.
                frontend.SetState(VhostUserRequest.SetVringEnable, 0, 0);
                frontend.SetState(VhostUserRequest.SetVringEnable, 1, 0);
                uint[] bases = [frontend.GetVringBase(0), frontend.GetVringBase(1)];
                Assert.False(harness.Device.IsRunning);
                if (packed && round == 0)
                {
                    // Transmit ring: nothing in flight, so avail (bits 0-15) equals used (bits 16-31); fewer than
                    // 256 descriptors used, so both wrap counters (bits 15 and 31) are still 1.
                    Assert.Equal(bases[1] & 0xffff, bases[1] >> 16);
                    Assert.Equal(0x8000_8000u, bases[1] & 0x8000_8000u);
                }

                Assert.True(guest.Driver.TrySend(0, Frame(next), default));   // sent while stopped: must come back after the restart
                guest.StartRings(frontend, bases);
                Assert.True(harness.Device.IsRunning);
                next = ExpectEcho(guest, next);
            }

            Assert.Equal(harness.Loopback.TransmittedFrames, next);
        }

        Assert.Equal(VhostUserSessionEnd.PeerClosed, BackendHarness.Finish(session).End);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MemoryTableChanges_WhileRunning_TrafficGoesOn(bool packed)
    {
        using var harness = new BackendHarness();
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed);
        using var extra = VirtioRing.Linux.MemfdGuestRegion.Create(new VirtioRing.Memory.GuestAddress(0x4000_0000), 0x10000, "extra");
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            Negotiate(frontend, guest);
            guest.StartRings(frontend);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            int next = Echo(guest, 0, 50);

            // A new SET_MEM_TABLE (same layout, a fresh mapping): the queues move to it, the old one is unmapped later.
            frontend.SetMemTable([guest.RegionDescription], guest.MemoryFd);
            next = Echo(guest, next, 50);

            // Memory hot-plug and unplug (CONFIGURE_MEM_SLOTS).
            byte[] region = new byte[VhostUserCodec.SingleRegionLength];
            VhostUserCodec.WriteSingleRegion(region, new VhostUserMemoryRegion(0x4000_0000, extra.Size, 0x7000_0000_0000, 0));
            frontend.Send(VhostUserRequest.AddMemReg, region, extra.Handle);
            next = Echo(guest, next, 50);
            frontend.Send(VhostUserRequest.RemMemReg, region);
            next = Echo(guest, next, 50);

            // Removing the region the rings live in is refused: the session ends.
            frontend.ReplyAck = false;
            VhostUserCodec.WriteSingleRegion(region, guest.RegionDescription);
            frontend.Send(VhostUserRequest.RemMemReg, region);
            VhostUserSessionResult result = BackendHarness.Finish(session);
            Assert.Equal(VhostUserSessionEnd.ProtocolError, result.End);
            Assert.Equal(VhostUserProtocolError.BadRingAddress, Assert.IsType<VhostUserProtocolException>(result.Error).Error);
            Assert.Equal(200, next);
        }
    }

    /// <summary>
    /// QEMU 7.2 runs one vhost device per queue pair on one socket, each with its own copy of the slots: with
    /// CONFIGURE_MEM_SLOTS every pair adds every region, and later removes it. An identical region added again is
    /// counted, not refused as an overlap (the back-end used to close the connection there), and stays until it
    /// has been removed as many times; a different region over the same addresses is still refused.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AddMemReg_SameRegionOncePerQueuePair_CountedUntilRemovedAsOften(bool packed)
    {
        using var harness = new BackendHarness(maxQueuePairs: 2);
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed);
        using var extra = VirtioRing.Linux.MemfdGuestRegion.Create(new VirtioRing.Memory.GuestAddress(0x4000_0000), 0x10000, "extra");
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            Negotiate(frontend, guest);
            guest.StartRings(frontend);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            int next = Echo(guest, 0, 20);

            // The ring's own region again, as the second pair's vhost device sends it: accepted (REPLY_ACK is on,
            // so a refusal would fail here), traffic goes on.
            byte[] own = new byte[VhostUserCodec.SingleRegionLength];
            VhostUserCodec.WriteSingleRegion(own, guest.RegionDescription);
            frontend.Send(VhostUserRequest.AddMemReg, own, guest.MemoryFd);
            next = Echo(guest, next, 20);

            // A hot-plugged region added by both pairs, removed by both: two removals succeed, a third finds nothing.
            byte[] region = new byte[VhostUserCodec.SingleRegionLength];
            var description = new VhostUserMemoryRegion(0x4000_0000, extra.Size, 0x7000_0000_0000, 0);
            VhostUserCodec.WriteSingleRegion(region, description);
            frontend.Send(VhostUserRequest.AddMemReg, region, extra.Handle);
            frontend.Send(VhostUserRequest.AddMemReg, region, extra.Handle);
            next = Echo(guest, next, 20);
            frontend.Send(VhostUserRequest.RemMemReg, region);
            next = Echo(guest, next, 20);
            frontend.Send(VhostUserRequest.RemMemReg, region);
            next = Echo(guest, next, 20);

            // The ring's region was added twice: one removal leaves it in place, the rings still work.
            frontend.Send(VhostUserRequest.RemMemReg, own);
            next = Echo(guest, next, 20);
            Assert.Equal(120, next);

            frontend.ReplyAck = false;
            frontend.Send(VhostUserRequest.RemMemReg, region);
            VhostUserSessionResult result = BackendHarness.Finish(session);
            Assert.Equal(VhostUserSessionEnd.ProtocolError, result.End);
            Assert.Equal(VhostUserProtocolError.BadMemoryRegion, Assert.IsType<VhostUserProtocolException>(result.Error).Error);
        }
    }

    /// <summary>
    /// A front-end that truncates a mapped file would make the back-end's next access a SIGBUS (the process dies, with
    /// every device it serves). The back-end seals each file against shrinking where the file allows it; memory that
    /// cannot be sealed (a tmpfs file here) is mapped with a warning, or refused with RequireSealedMemory.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public unsafe void AddMemReg_FileTheFrontEndCouldTruncate_SealedOrWarnedOrRefused(bool requireSealed)
    {
        using var harness = new BackendHarness(options: null);
        using var strict = new BackendHarness(options: new VhostUserNetBackendOptions { RequireSealedMemory = true });
        BackendHarness h = requireSealed ? strict : harness;
        using var guest = new VhostGuest(h.Device.OfferedFeatures, packed: false);
        using var tmpfs = new TmpfsFile(0x10000);
        byte name = 0;
        int raw = Tmds.Linux.LibC.memfd_create(&name, Tmds.Linux.LibC.MFD_CLOEXEC | Tmds.Linux.LibC.MFD_ALLOW_SEALING);
        Assert.True(raw >= 0);
        using var sealable = new VirtioRing.Linux.SafeFileDescriptor(raw, ownsHandle: true);
        Assert.Equal(0, Tmds.Linux.LibC.ftruncate(raw, 0x10000));
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = h.Connect();
        using (frontend)
        {
            Negotiate(frontend, guest);
            byte[] region = new byte[VhostUserCodec.SingleRegionLength];

            // A memfd that allows sealing: sealed by the back-end, the front-end can no longer shrink it.
            VhostUserCodec.WriteSingleRegion(region, new VhostUserMemoryRegion(0x4000_0000, 0x10000, 0x7000_0000_0000, 0));
            frontend.Send(VhostUserRequest.AddMemReg, region, sealable);
            Assert.NotEqual(0, Tmds.Linux.LibC.fcntl(raw, Tmds.Linux.LibC.F_GET_SEALS) & Tmds.Linux.LibC.F_SEAL_SHRINK);
            Assert.Equal(-1, Tmds.Linux.LibC.ftruncate(raw, 0x1000));
            Assert.DoesNotContain(h.Logger.Entries, e => e.Message.Contains("truncate", StringComparison.Ordinal));

            // A tmpfs file cannot be sealed.
            VhostUserCodec.WriteSingleRegion(region, new VhostUserMemoryRegion(0x5000_0000, 0x10000, 0x7100_0000_0000, 0));
            frontend.ReplyAck = !requireSealed;
            frontend.Send(VhostUserRequest.AddMemReg, region, tmpfs.Handle);
            if (!requireSealed)
            {
                Assert.Contains(h.Logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("can still truncate", StringComparison.Ordinal));
                guest.StartRings(frontend);
                guest.Driver.Bind(guest.Rings, guest.Kicks);
                Assert.Equal(10, Echo(guest, 0, 10));
            }
        }

        VhostUserSessionResult result = BackendHarness.Finish(session);
        if (requireSealed)
        {
            Assert.Equal(VhostUserSessionEnd.ProtocolError, result.End);
            var error = Assert.IsType<VhostUserProtocolException>(result.Error);
            Assert.Equal(VhostUserProtocolError.BadFileDescriptor, error.Error);
            Assert.Contains("sealed", error.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(VhostUserSessionEnd.PeerClosed, result.End);
        }
    }

    /// <summary>
    /// A transmit chain the engine holds when the ring stops (the backend was busy) has been popped but not used.
    /// GET_VRING_BASE must report the position before it, so the restarted ring offers it again: on a packed ring
    /// the avail half is rewound to the used half (it used to stay past the chain: the frame was lost and the
    /// driver never got its buffer back).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GetVringBase_TransmitChainHeldForBusyBackend_OfferedAgainAfterRestart(bool packed)
    {
        var loopback = new LoopbackBackend(LoopbackMode.Capture, capacity: 1);
        using var harness = new BackendHarness(loopback: loopback);
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed);
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            Negotiate(frontend, guest);
            guest.StartRings(frontend);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            Assert.True(guest.Driver.TrySend(0, Frame(0), default));
            Assert.True(guest.Driver.TrySend(0, Frame(1), default));   // the backend holds one frame: this one waits
            Assert.True(SpinWait.SpinUntil(() => harness.Device.GetCounters(1).Busy > 0, 10_000), "the second frame was not held");

            frontend.SetState(VhostUserRequest.SetVringEnable, 0, 0);
            frontend.SetState(VhostUserRequest.SetVringEnable, 1, 0);
            uint[] bases = [frontend.GetVringBase(0), frontend.GetVringBase(1)];
            uint transmit = bases[1];
            if (packed)
            {
                Assert.Equal(transmit >> 16, transmit & 0xffff);   // next avail = next used: the held chain is offered again
            }
            else
            {
                Assert.Equal(1u, transmit);
            }

            Assert.True(loopback.TryTakeTransmitted(0, out _, out byte[] first));
            Assert.Equal(Frame(0), first);
            guest.StartRings(frontend, bases);
            byte[]? second = null;
            Assert.True(SpinWait.SpinUntil(() => loopback.TryTakeTransmitted(0, out _, out second), 10_000), "the held frame was lost");
            Assert.Equal(Frame(1), second);
            Assert.False(loopback.TryTakeTransmitted(0, out _, out _));   // once, not twice
            Assert.True(SpinWait.SpinUntil(() => guest.Driver.ReclaimTransmitted(0) >= 0 && guest.Driver.GetTransmitOutstanding(0) == 0, 10_000), "the driver did not get both buffers back");
        }

        Assert.Equal(VhostUserSessionEnd.PeerClosed, BackendHarness.Finish(session).End);
    }

    [Fact]
    public void AddMemReg_DifferentRegionOverSameAddresses_RefusedAsOverlap()
    {
        using var harness = new BackendHarness();
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed: false);
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            Negotiate(frontend, guest);
            byte[] region = new byte[VhostUserCodec.SingleRegionLength];
            VhostUserCodec.WriteSingleRegion(region, guest.RegionDescription with { Size = guest.RegionDescription.Size / 2 });
            frontend.ReplyAck = false;
            frontend.Send(VhostUserRequest.AddMemReg, region, guest.MemoryFd);
            VhostUserSessionResult result = BackendHarness.Finish(session);
            Assert.Equal(VhostUserSessionEnd.ProtocolError, result.End);
            Assert.Equal(VhostUserProtocolError.BadMemoryRegion, Assert.IsType<VhostUserProtocolException>(result.Error).Error);
        }
    }

    [Fact]
    public void SetFeatures_MqWithoutCtrlVqAsQemuAcks_AcceptedAndRepeatable()
    {
        using var harness = new BackendHarness(maxQueuePairs: 2);
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed: false);
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            Negotiate(frontend, guest);
            ulong features = (ulong)((guest.Accepted | NetFeatures.Mq) & ~NetFeatures.CtrlVq) | VhostUserNetBackend.ProtocolFeaturesBit;
            frontend.SetU64(VhostUserRequest.SetFeatures, features);
            Assert.NotEqual(NetFeatures.None, harness.Device.NegotiatedFeatures & NetFeatures.CtrlVq);
            guest.StartRings(frontend);
            frontend.SetU64(VhostUserRequest.SetFeatures, features);   // again at the next start: no change, no reset
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            Echo(guest, 0, 20);
        }

        Assert.Equal(VhostUserSessionEnd.PeerClosed, BackendHarness.Finish(session).End);
    }

    [Fact]
    public void HostileRing_AvailIndexJump_ErrFdSignalledAndStatusNeedsReset()
    {
        using var harness = new BackendHarness();
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed: false);
        using var err = new VirtioRing.Linux.EventFd();
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            Negotiate(frontend, guest);
            frontend.SetVringFd(VhostUserRequest.SetVringErr, 1, err);
            guest.StartRings(frontend);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            Echo(guest, 0, 10);

            // The guest moves its transmit avail index more than a ring ahead (rust-vmm vm-virtio #196).
            var idx = new VirtioRing.Memory.GuestAddress(guest.Rings[1].DriverArea.Value + 2);
            Span<byte> value = stackalloc byte[2];
            guest.Memory.Read(idx, value);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(value, (ushort)(System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(value) + 1000));
            guest.Memory.Write(idx, value);
            guest.Kicks[1].Notify();

            Assert.True(err.Read(5000, out _), "the error eventfd was not signalled");
            Assert.NotEqual(0UL, frontend.GetU64(VhostUserRequest.GetStatus) & 0x40);   // DEVICE_NEEDS_RESET
        }

        Assert.Equal(VhostUserSessionEnd.PeerClosed, BackendHarness.Finish(session).End);
    }

    [Fact]
    public void Serve_GetConfig_ReturnsMacFromConfigSpace()
    {
        using var harness = new BackendHarness();
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed: false);
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            Negotiate(frontend, guest);
            byte[] request = new byte[12 + 6];
            VhostUserCodec.WriteConfig(request, 0, 0, new byte[6]);
            frontend.Send(VhostUserRequest.GetConfig, request);
            byte[] reply = frontend.Receive(VhostUserRequest.GetConfig);
            VhostUserConfigPayload config = VhostUserCodec.ReadConfig(reply);
            Assert.Equal(6u, config.Size);
            Assert.Equal(BackendHarness.Mac, MacAddress.Read(config.Bytes(reply)));

            // Out of range: an empty reply payload signals the error; the session goes on.
            VhostUserCodec.WriteConfig(request, 250, 0, new byte[6]);
            frontend.Send(VhostUserRequest.GetConfig, request);
            Assert.Empty(frontend.Receive(VhostUserRequest.GetConfig));
            Assert.Equal((ulong)harness.Device.MaxQueuePairs, frontend.GetU64(VhostUserRequest.GetQueueNum));
        }

        Assert.Equal(VhostUserSessionEnd.PeerClosed, BackendHarness.Finish(session).End);
    }

    [Fact]
    public void SendRarp_Mac_BackendGetsBroadcastRarpFrame()
    {
        using var harness = new BackendHarness();
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed: false);
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            Negotiate(frontend, guest);
            guest.StartRings(frontend);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            var mac = MacAddress.Parse("52:54:00:aa:bb:cc");
            byte[] payload = new byte[8];
            mac.WriteTo(payload);
            frontend.Send(VhostUserRequest.SendRarp, payload);

            // The echo loopback hands it straight back to the guest.
            byte[] received = new byte[2048];
            int length = 0;
            Assert.True(SpinWait.SpinUntil(() => guest.Driver.TryReceive(0, received, out _, out length), 5000));
            Assert.Equal(60, length);
            Assert.Equal(MacAddress.Broadcast, MacAddress.Read(received));
            Assert.Equal(mac, MacAddress.Read(received.AsSpan(6)));
            Assert.Equal(0x80, received[12]);
            Assert.Equal(0x35, received[13]);
            Assert.Equal(3, received[21]);
            Assert.Equal(mac, MacAddress.Read(received.AsSpan(22)));
        }

        BackendHarness.Finish(session);
    }

    /// <summary>QEMU's connection-time exchange (vhost_user_backend_init, vhost_dev_init, vhost_dev_start's first steps).</summary>
    internal static void Negotiate(TestFrontend frontend, VhostGuest guest)
    {
        ulong features = frontend.GetU64(VhostUserRequest.GetFeatures);
        Assert.NotEqual(0UL, features & VhostUserNetBackend.ProtocolFeaturesBit);
        ulong protocol = frontend.GetU64(VhostUserRequest.GetProtocolFeatures);
        Assert.Equal((ulong)VhostUserNetBackendOptions.DefaultProtocolFeatures, protocol);
        frontend.SetU64(VhostUserRequest.SetProtocolFeatures, protocol);
        frontend.ReplyAck = true;
        Assert.True(frontend.GetU64(VhostUserRequest.GetQueueNum) >= 1);
        Assert.Equal(8UL, frontend.GetU64(VhostUserRequest.GetMaxMemSlots));
        frontend.Send(VhostUserRequest.SetOwner, default);
        frontend.SetU64(VhostUserRequest.SetFeatures, (ulong)guest.Accepted | VhostUserNetBackend.ProtocolFeaturesBit);
        frontend.SetMemTable([guest.RegionDescription], guest.MemoryFd);
        frontend.SetU64(VhostUserRequest.SetStatus, 0x0b);   // ACKNOWLEDGE | DRIVER | FEATURES_OK
        Assert.Equal(0x0bUL, frontend.GetU64(VhostUserRequest.GetStatus));
    }

    internal static byte[] Frame(int i)
    {
        byte[] frame = new byte[60 + (i % 700)];
        BackendHarness.Mac.WriteTo(frame);
        BackendHarness.Mac.WriteTo(frame.AsSpan(6));
        frame[12] = 0x88;
        frame[13] = 0xb5;
        BitConverterFree.WriteInt32(frame.AsSpan(14), i);
        frame[^1] = (byte)~i;
        return frame;
    }

    /// <summary>Sends frames from <paramref name="first"/> on and checks each comes back; returns the next number.</summary>
    internal static int Echo(VhostGuest guest, int first, int count)
    {
        for (int i = first; i < first + count; i++)
        {
            bool sent = false;
            for (int attempt = 0; attempt < 1000 && !sent; attempt++)
            {
                sent = guest.Driver.TrySend(0, Frame(i), default);
                if (!sent)
                {
                    guest.Driver.ReclaimTransmitted(0);
                    Thread.Sleep(1);
                }
            }

            Assert.True(sent, $"frame {i} could not be sent");
            ExpectEcho(guest, i);
        }

        return first + count;
    }

    internal static int ExpectEcho(VhostGuest guest, int i)
    {
        byte[] expected = Frame(i);
        byte[] received = new byte[2048];
        int length = 0;
        bool got = false;
        for (int spin = 0; spin < 500 && !got; spin++)
        {
            got = guest.Driver.TryReceive(0, received, out _, out length);
            if (!got)
            {
                if (!guest.Driver.EnableUsedNotifications(0))
                {
                    guest.Calls[0].Read(20, out _);
                }
            }
        }

        Assert.True(got, $"frame {i} did not come back");
        Assert.Equal(expected.Length, length);
        Assert.True(expected.AsSpan().SequenceEqual(received.AsSpan(0, length)), $"frame {i} differs");
        guest.Driver.ReclaimTransmitted(0);
        return i + 1;
    }
}

internal static class BitConverterFree
{
    public static void WriteInt32(Span<byte> destination, int value) => System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(destination, value);
}
