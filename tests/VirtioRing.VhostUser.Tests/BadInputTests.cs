using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using VirtioRing.Linux;
using VirtioRing.VhostUser.Backend;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.VhostUser.Tests;

/// <summary>Each kind of bad input: a logged error, the connection closed, every fd and mapping of the session released.</summary>
[Collection(SerialCollection.Name)]
public sealed class BadInputTests
{
    public enum BadCase
    {
        OverlappingRegions,
        RegionPastItsFile,
        RingOutsideRegions,
        KickBeforeAddress,
        VringIndexOutOfRange,
        KickFdNotAnEventFd,
        FeatureNotOffered,
        ProtocolFeatureNotOffered,
        ConfigNotNegotiated,
        SplitSizeNotPowerOfTwo,
        MisalignedRing,
        UnknownRequest,
        VringAddrUnknownFlag,
        RemoveUnknownRegion,
        SetNumWhileStarted,
        LogBaseWithoutFd,
        LogBaseWithTwoFds,
        LogBaseSizeZero,
        LogBasePastItsFile,
        LogBaseOffsetPastItsFile,
        LogBaseOffsetPlusSizeWraps,
        LogBaseNotNegotiated,
    }

    [Theory]
    [InlineData(BadCase.OverlappingRegions, VhostUserProtocolError.BadMemoryRegion)]
    [InlineData(BadCase.RegionPastItsFile, VhostUserProtocolError.BadMemoryRegion)]
    [InlineData(BadCase.RingOutsideRegions, VhostUserProtocolError.BadRingAddress)]
    [InlineData(BadCase.KickBeforeAddress, VhostUserProtocolError.OutOfOrder)]
    [InlineData(BadCase.VringIndexOutOfRange, VhostUserProtocolError.BadQueueIndex)]
    [InlineData(BadCase.KickFdNotAnEventFd, VhostUserProtocolError.BadFileDescriptor)]
    [InlineData(BadCase.FeatureNotOffered, VhostUserProtocolError.InvalidFeatures)]
    [InlineData(BadCase.ProtocolFeatureNotOffered, VhostUserProtocolError.InvalidValue)]
    [InlineData(BadCase.ConfigNotNegotiated, VhostUserProtocolError.UnsupportedRequest)]
    [InlineData(BadCase.SplitSizeNotPowerOfTwo, VhostUserProtocolError.InvalidValue)]
    [InlineData(BadCase.MisalignedRing, VhostUserProtocolError.BadRingAddress)]
    [InlineData(BadCase.UnknownRequest, VhostUserProtocolError.UnknownRequest)]
    [InlineData(BadCase.VringAddrUnknownFlag, VhostUserProtocolError.InvalidValue)]
    [InlineData(BadCase.RemoveUnknownRegion, VhostUserProtocolError.BadMemoryRegion)]
    [InlineData(BadCase.SetNumWhileStarted, VhostUserProtocolError.OutOfOrder)]
    [InlineData(BadCase.LogBaseWithoutFd, VhostUserProtocolError.MissingFd)]
    [InlineData(BadCase.LogBaseWithTwoFds, VhostUserProtocolError.UnexpectedFd)]
    [InlineData(BadCase.LogBaseSizeZero, VhostUserProtocolError.BadLog)]
    [InlineData(BadCase.LogBasePastItsFile, VhostUserProtocolError.BadLog)]
    [InlineData(BadCase.LogBaseOffsetPastItsFile, VhostUserProtocolError.BadLog)]
    [InlineData(BadCase.LogBaseOffsetPlusSizeWraps, VhostUserProtocolError.BadLog)]
    [InlineData(BadCase.LogBaseNotNegotiated, VhostUserProtocolError.UnsupportedRequest)]
    public void Serve_BadInput_LoggedConnectionClosedNothingLeaked(BadCase bad, VhostUserProtocolError expected)
    {
        using var harness = new BackendHarness();
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed: false);
        RunSession(harness, guest, _ => { });   // warm up: worker threads and their epoll fds exist from now on
        DeferredRelease.Drain();
        int before = FdCount.Current();

        VhostUserSessionResult result = RunSession(harness, guest, f => Provoke(f, guest, bad));
        Assert.Equal(VhostUserSessionEnd.ProtocolError, result.End);
        Assert.Equal(expected, Assert.IsType<VhostUserProtocolException>(result.Error).Error);
        Assert.Contains(harness.Logger.Entries, e => e.Level == LogLevel.Error);
        Assert.False(harness.Device.IsRunning);

        DeferredRelease.Drain();
        FdCount.AssertNoneLeaked(before);

        // The back-end serves the next front-end as if nothing happened.
        RunSession(harness, guest, f =>
        {
            guest.StartRings(f);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            EndToEndTests.Echo(guest, 0, 20);
        });
    }

    [Fact]
    public void Serve_HostileFrontendOnOneDevice_OtherDeviceKeepsPassingTraffic()
    {
        using var good = new BackendHarness();
        using var hostile = new BackendHarness();
        using var goodGuest = new VhostGuest(good.Device.OfferedFeatures, packed: true);
        using var hostileGuest = new VhostGuest(hostile.Device.OfferedFeatures, packed: false);
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = good.Connect();
        using (frontend)
        {
            EndToEndTests.Negotiate(frontend, goodGuest);
            goodGuest.StartRings(frontend);
            goodGuest.Driver.Bind(goodGuest.Rings, goodGuest.Kicks);
            int next = EndToEndTests.Echo(goodGuest, 0, 50);
            foreach (BadCase bad in Enum.GetValues<BadCase>())
            {
                VhostUserSessionResult r = RunSession(hostile, hostileGuest, f => Provoke(f, hostileGuest, bad));
                Assert.Equal(VhostUserSessionEnd.ProtocolError, r.End);
                next = EndToEndTests.Echo(goodGuest, next, 10);
            }
        }

        Assert.Equal(VhostUserSessionEnd.PeerClosed, BackendHarness.Finish(session).End);
    }

    private static VhostUserSessionResult RunSession(BackendHarness harness, VhostGuest guest, Action<TestFrontend> body)
    {
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            try
            {
                EndToEndTests.Negotiate(frontend, guest);
                body(frontend);
                frontend.GetU64(VhostUserRequest.GetFeatures);   // a round trip: everything before it was handled
            }
            catch (Xunit.Sdk.XunitException)
            {
                // The back-end closed the connection: the reply the body waited for never came.
            }
            catch (LinuxException)
            {
                // The back-end closed the connection before the next send (EPIPE).
            }
        }

        return BackendHarness.Finish(session);
    }

    private static byte[] LogPayload(ulong size, ulong offset)
    {
        byte[] p = new byte[VhostUserLog.Length];
        VhostUserCodec.WriteLog(p, new VhostUserLog(size, offset));
        return p;
    }

    private static void Provoke(TestFrontend f, VhostGuest guest, BadCase bad)
    {
        VhostUserMemoryRegion region = guest.RegionDescription;
        switch (bad)
        {
            case BadCase.OverlappingRegions:
                f.SetMemTable([region, region with { GuestAddress = region.GuestAddress + 0x1000, UserAddress = region.UserAddress + region.Size }], guest.MemoryFd, guest.MemoryFd);
                break;
            case BadCase.RegionPastItsFile:
                f.SetMemTable([region with { Size = region.Size + 0x1000 }], guest.MemoryFd);
                break;
            case BadCase.RingOutsideRegions:
                f.SetState(VhostUserRequest.SetVringNum, 0, 256);
                f.SetVringAddr(guest.RingAddress(0) with { UsedAddress = region.UserAddress + region.Size });
                f.SetVringFd(VhostUserRequest.SetVringKick, 0, guest.Kicks[0]);
                break;
            case BadCase.KickBeforeAddress:
                f.SetState(VhostUserRequest.SetVringNum, 0, 256);
                f.SetVringFd(VhostUserRequest.SetVringKick, 0, guest.Kicks[0]);
                break;
            case BadCase.VringIndexOutOfRange:
                f.SetState(VhostUserRequest.SetVringNum, 2, 256);   // the control queue is QEMU's, not ours
                break;
            case BadCase.KickFdNotAnEventFd:
                f.SetState(VhostUserRequest.SetVringNum, 0, 256);
                f.SetVringAddr(guest.RingAddress(0));
                f.SetU64(VhostUserRequest.SetVringKick, 0, guest.MemoryFd);
                break;
            case BadCase.FeatureNotOffered:
                f.ReplyAck = false;
                f.SetU64(VhostUserRequest.SetFeatures, 1UL << 63);
                break;
            case BadCase.ProtocolFeatureNotOffered:
                f.SetU64(VhostUserRequest.SetProtocolFeatures, (ulong)VhostUserProtocolFeatures.InflightShmfd);
                break;
            case BadCase.ConfigNotNegotiated:
                f.ReplyAck = false;   // REPLY_ACK goes away with this SET_PROTOCOL_FEATURES
                f.SetU64(VhostUserRequest.SetProtocolFeatures, (ulong)VhostUserProtocolFeatures.Mq);
                byte[] config = new byte[12 + 6];
                VhostUserCodec.WriteConfig(config, 0, 0, new byte[6]);
                f.Send(VhostUserRequest.GetConfig, config);
                break;
            case BadCase.SplitSizeNotPowerOfTwo:
                f.SetState(VhostUserRequest.SetVringNum, 0, 255);
                f.SetVringAddr(guest.RingAddress(0));
                f.SetVringFd(VhostUserRequest.SetVringKick, 0, guest.Kicks[0]);
                break;
            case BadCase.MisalignedRing:
                f.SetState(VhostUserRequest.SetVringNum, 0, 256);
                f.SetVringAddr(guest.RingAddress(0) with { DescriptorAddress = guest.RingAddress(0).DescriptorAddress + 2 });
                f.SetVringFd(VhostUserRequest.SetVringKick, 0, guest.Kicks[0]);
                break;
            case BadCase.UnknownRequest:
                f.Send((VhostUserRequest)77, default);
                break;
            case BadCase.VringAddrUnknownFlag:
                f.SetVringAddr(guest.RingAddress(0) with { Flags = VhostUserVringAddress.LogFlag | 2 });
                break;
            case BadCase.RemoveUnknownRegion:
                byte[] p = new byte[VhostUserCodec.SingleRegionLength];
                VhostUserCodec.WriteSingleRegion(p, region with { GuestAddress = 0x4000_0000 });
                f.Send(VhostUserRequest.RemMemReg, p);
                break;
            case BadCase.SetNumWhileStarted:
                guest.StartRings(f);
                f.SetState(VhostUserRequest.SetVringNum, 0, 128);
                break;
            case BadCase.LogBaseWithoutFd:
                f.Send(VhostUserRequest.SetLogBase, LogPayload(0x1000, 0));
                break;
            case BadCase.LogBaseWithTwoFds:
                f.Send(VhostUserRequest.SetLogBase, LogPayload(0x1000, 0), guest.MemoryFd, guest.MemoryFd);
                break;
            case BadCase.LogBaseSizeZero:
                f.Send(VhostUserRequest.SetLogBase, LogPayload(0, 0), guest.MemoryFd);
                break;
            case BadCase.LogBasePastItsFile:
                f.Send(VhostUserRequest.SetLogBase, LogPayload(region.Size + 1, 0), guest.MemoryFd);
                break;
            case BadCase.LogBaseOffsetPastItsFile:
                f.Send(VhostUserRequest.SetLogBase, LogPayload(0x1000, region.Size - 0xfff), guest.MemoryFd);
                break;
            case BadCase.LogBaseOffsetPlusSizeWraps:
                f.Send(VhostUserRequest.SetLogBase, LogPayload(0x2000, ulong.MaxValue - 0xfff), guest.MemoryFd);
                break;
            case BadCase.LogBaseNotNegotiated:
                f.ReplyAck = false;   // REPLY_ACK goes away with this SET_PROTOCOL_FEATURES
                f.SetU64(VhostUserRequest.SetProtocolFeatures, (ulong)(VhostUserNetBackendOptions.DefaultProtocolFeatures & ~(VhostUserProtocolFeatures.LogShmfd | VhostUserProtocolFeatures.ReplyAck)));
                f.Send(VhostUserRequest.SetLogBase, LogPayload(0x1000, 0), guest.MemoryFd);
                break;
        }
    }
}
