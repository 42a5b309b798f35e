using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using VirtioRing.Linux;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Driver;
using VirtioRing.VhostUser.Backend;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.VhostUser.Tests;

/// <summary>
/// Dirty-page logging for live migration (vhost-user "Migration"): <c>SET_LOG_BASE</c> with
/// <c>LOG_SHMFD</c>, <c>VHOST_F_LOG_ALL</c> toggled by <c>SET_FEATURES</c> while running, and
/// <c>VHOST_VRING_F_LOG</c> with <c>log_guest_addr</c>, checked in the bitmap the front-end shares.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class DirtyLogTests
{
    private const int PageShift = 12;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LogAll_TrafficThroughBackend_MarksEveryRxBufferAndTheUsedRings(bool packed)
    {
        using var harness = new BackendHarness();
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed);
        using var log = new SharedLog(LogBytesFor(guest));
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            Assert.NotEqual(0UL, frontend.GetU64(VhostUserRequest.GetFeatures) & VhostUserNetBackend.LogAllFeatureBit);
            EndToEndTests.Negotiate(frontend, guest);
            frontend.SetLogBase(log.Size, 0, log.Fd);
            guest.StartRings(frontend);
            guest.Driver.Bind(guest.Rings, guest.Kicks);

            // A log, but no VHOST_F_LOG_ALL: nothing is marked.
            int next = EndToEndTests.Echo(guest, 0, 40);
            Assert.False(harness.Backend.IsLogging);
            Assert.Equal(0, log.CountSet());

            // Migration starts as QEMU starts it (vhost_dev_set_log): LOG_ALL on the running device, then
            // VHOST_VRING_F_LOG on each ring, its used ring logged at log_guest_addr (here a page of its own
            // below guest RAM, so that the test sees that address is the one used).
            StartLogging(frontend, guest);
            Assert.True(harness.Backend.IsLogging);
            var rx = new RxBufferRecorder(guest);
            for (int i = 0; i < 60; i++)
            {
                SendOne(guest, next++);
                rx.ReceiveOne(guest);
            }

            Assert.Equal(60, rx.Buffers.Count);
            foreach ((ulong start, ulong length) in rx.Buffers)
            {
                for (ulong page = start >> PageShift; page <= (start + length - 1) >> PageShift; page++)
                {
                    Assert.True(log.IsSet(page), $"receive buffer [0x{start:x}, +{length}) written, page {page} not marked");
                }
            }

            for (int q = 0; q < 2; q++)
            {
                // Split: every used element and used.idx. Packed: the device event suppression stores, which
                // the transmit worker makes each time it sleeps (the receive side never asks for kicks here).
                if (!packed || q == 1)
                {
                    Assert.True(log.IsSet(LogGuestAddress(q) >> PageShift), $"ring {q}: the used ring writes are not marked at log_guest_addr");
                }

                if (packed)
                {
                    // The used descriptors go into the descriptor ring, marked by their guest-physical address.
                    ulong ring = guest.Rings[q].DescriptorArea.Value;
                    ulong end = ring + (16UL * (ulong)guest.Rings[q].Size) - 1;
                    bool marked = false;
                    for (ulong page = ring >> PageShift; page <= end >> PageShift; page++)
                    {
                        marked |= log.IsSet(page);
                    }

                    Assert.True(marked, $"ring {q}: no used descriptor marked");
                }
            }

            // Nothing lives below guest RAM but the two log_guest_addr pages: nothing else there is marked.
            for (ulong page = 0; page < VhostGuest.RegionStart >> PageShift; page++)
            {
                Assert.True(!log.IsSet(page) || page == LogGuestAddress(0) >> PageShift || page == LogGuestAddress(1) >> PageShift, $"page {page} marked");
            }

            // Migration ends (or is cancelled): LOG_ALL off while running; traffic goes on, nothing is marked.
            frontend.SetU64(VhostUserRequest.SetFeatures, (ulong)guest.Accepted | VhostUserNetBackend.ProtocolFeaturesBit);
            Assert.False(harness.Backend.IsLogging);
            log.Clear();
            next = EndToEndTests.Echo(guest, next, 40);
            Assert.Equal(0, log.CountSet());
            Assert.Equal(harness.Loopback.TransmittedFrames, next);
        }

        Assert.Equal(VhostUserSessionEnd.PeerClosed, BackendHarness.Finish(session).End);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SetLogBase_ReplacedWhileLogging_NewLogMarkedOldOneUntouched(bool packed)
    {
        using var harness = new BackendHarness();
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed);
        using var first = new SharedLog(LogBytesFor(guest));
        using var second = new SharedLog(LogBytesFor(guest) + 4096);   // QEMU grows the log on memory hot-plug
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            EndToEndTests.Negotiate(frontend, guest);
            guest.StartRings(frontend);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            frontend.SetLogBase(first.Size, 0, first.Fd);
            StartLogging(frontend, guest);
            int next = EndToEndTests.Echo(guest, 0, 20);
            Assert.NotEqual(0, first.CountSet());

            frontend.SetLogBase(second.Size, 0, second.Fd);
            first.Clear();
            next = EndToEndTests.Echo(guest, next, 20);
            Assert.Equal(0, first.CountSet());
            Assert.NotEqual(0, second.CountSet());
            Assert.True(second.IsSet(LogGuestAddress(1) >> PageShift));
        }

        Assert.Equal(VhostUserSessionEnd.PeerClosed, BackendHarness.Finish(session).End);
    }

    [Fact]
    public void Mark_PagesPastTheBitmap_IgnoredNothingOutsideTheLogWritten()
    {
        using var harness = new BackendHarness();
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed: false);

        // The log is 8 bytes (pages 0-63: guest addresses below 256 KiB) in the middle of a file whose
        // other bytes are a canary: guest RAM (from 1 MiB) and the buffers in it are all past the bitmap.
        const ulong Offset = 4096 + 24;
        const ulong Size = 8;
        using var file = new SharedLog(3 * 4096);
        file.Fill(0xa5);
        Span<byte> bits = file.Bytes.Slice((int)Offset, (int)Size);
        bits.Clear();
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            EndToEndTests.Negotiate(frontend, guest);
            frontend.SetLogBase(Size, Offset, file.Fd);
            guest.StartRings(frontend);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            frontend.SetU64(VhostUserRequest.SetFeatures, (ulong)guest.Accepted | VhostUserNetBackend.ProtocolFeaturesBit | VhostUserNetBackend.LogAllFeatureBit);

            // Ring 0 logs its used ring at page 63 (the last bit); ring 1 at page 64 (the first one past it).
            frontend.SetVringAddr(guest.RingAddress(0) with { Flags = VhostUserVringAddress.LogFlag, LogGuestAddress = 63UL << PageShift });
            frontend.SetVringAddr(guest.RingAddress(1) with { Flags = VhostUserVringAddress.LogFlag, LogGuestAddress = 64UL << PageShift });
            EndToEndTests.Echo(guest, 0, 50);
        }

        Assert.Equal(VhostUserSessionEnd.PeerClosed, BackendHarness.Finish(session).End);
        DeferredRelease.Drain();
        Assert.Equal(0x80, file.Bytes[(int)(Offset + Size - 1)]);   // page 63 only
        Assert.True(file.Bytes.Slice((int)Offset, (int)Size - 1).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(file.Bytes.Slice(0, (int)Offset).IndexOfAnyExcept((byte)0xa5) < 0, "bytes before the log were written");
        Assert.True(file.Bytes.Slice((int)(Offset + Size)).IndexOfAnyExcept((byte)0xa5) < 0, "bytes after the log were written");
    }

    /// <summary>The log is mapped like guest memory: a file the front-end could truncate is refused under RequireSealedMemory.</summary>
    [Fact]
    public void SetLogBase_UnsealableFileWithSealedMemoryRequired_Refused()
    {
        using var harness = new BackendHarness(options: new VhostUserNetBackendOptions { RequireSealedMemory = true });
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed: false);
        using var tmpfs = new TmpfsFile(4096);
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            EndToEndTests.Negotiate(frontend, guest);
            byte[] p = new byte[16];
            BinaryPrimitives.WriteUInt64LittleEndian(p, 4096);
            frontend.ReplyAck = false;
            frontend.Send(VhostUserRequest.SetLogBase, p, tmpfs.Handle);
            VhostUserSessionResult result = BackendHarness.Finish(session);
            Assert.Equal(VhostUserSessionEnd.ProtocolError, result.End);
            var error = Assert.IsType<VhostUserProtocolException>(result.Error);
            Assert.Equal(VhostUserProtocolError.BadFileDescriptor, error.Error);
            Assert.Contains("sealed", error.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>A sparse file of any size costs its sender nothing; mapping it would take the daemon's address space.</summary>
    [Fact]
    public void SetLogBase_LargerThanAnyGuestNeeds_Refused()
    {
        using var harness = new BackendHarness();
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed: false);
        using var sparse = MemfdGuestRegion.Create(new GuestAddress(0), VhostUserDirtyLog.MaxSize + 4096, "huge-log");   // never touched: no memory
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            EndToEndTests.Negotiate(frontend, guest);
            byte[] p = new byte[16];
            BinaryPrimitives.WriteUInt64LittleEndian(p, VhostUserDirtyLog.MaxSize + 4096);
            frontend.ReplyAck = false;
            frontend.Send(VhostUserRequest.SetLogBase, p, sparse.Handle);
            VhostUserSessionResult result = BackendHarness.Finish(session);
            Assert.Equal(VhostUserSessionEnd.ProtocolError, result.End);
            var error = Assert.IsType<VhostUserProtocolException>(result.Error);
            Assert.Equal(VhostUserProtocolError.BadLog, error.Error);
            Assert.Contains("larger than", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Mark_RangesAtTheEdges_SetExactlyTheirPages()
    {
        using var file = new SharedLog(4096);
        using VhostUserDirtyLog log = VhostUserDirtyLog.Map(new VhostUserLog(16, 0), file.Fd, requireSealed: false);   // pages 0-127
        log.Mark(0x1fff, 2);                               // straddles pages 1 and 2
        log.Mark(0x5000, 0);                               // nothing
        log.Mark(127UL << PageShift, 1UL << 40);           // page 127, the rest past the bitmap
        log.Mark(ulong.MaxValue - 10, 100);                // past 2^64: clamped, past the bitmap
        log.Mark(0x7000, 0x2000);                          // pages 7 and 8
        Assert.Equal(new List<ulong> { 1, 2, 7, 8, 127 }, file.SetPages());
        Assert.True(log.IsDirty(127));
        Assert.False(log.IsDirty(128));
    }

    [Fact]
    public void LogSession_LogsReplacedAndLogFdGiven_NoFdLeftOpen()
    {
        using var harness = new BackendHarness();
        using var log = new SharedLog(1UL << 20);
        using var logFd = new EventFd();
        RunTraffic(harness, log, logFd);   // warm up: worker threads and their epoll fds exist from now on
        DeferredRelease.Drain();
        int before = FdCount.Current();

        RunTraffic(harness, log, logFd);
        DeferredRelease.Drain();
        FdCount.AssertNoneLeaked(before);
        Assert.NotEqual(0, log.CountSet());
    }

    private static void RunTraffic(BackendHarness harness, SharedLog log, EventFd logFd)
    {
        using var guest = new VhostGuest(harness.Device.OfferedFeatures, packed: true);
        (TestFrontend frontend, Task<VhostUserSessionResult> session) = harness.Connect();
        using (frontend)
        {
            EndToEndTests.Negotiate(frontend, guest);
            frontend.Send(VhostUserRequest.SetLogFd, default, logFd.Handle);
            frontend.SetLogBase(log.Size, 0, log.Fd);
            guest.StartRings(frontend);
            guest.Driver.Bind(guest.Rings, guest.Kicks);
            StartLogging(frontend, guest);
            frontend.SetLogBase(log.Size, 0, log.Fd);   // again: the first mapping is released
            EndToEndTests.Echo(guest, 0, 10);
        }

        Assert.Equal(VhostUserSessionEnd.PeerClosed, BackendHarness.Finish(session).End);
    }

    /// <summary>QEMU's vhost_dev_set_log(true): SET_FEATURES with LOG_ALL, then SET_VRING_ADDR with VHOST_VRING_F_LOG on each ring.</summary>
    private static void StartLogging(TestFrontend frontend, VhostGuest guest)
    {
        frontend.SetU64(VhostUserRequest.SetFeatures, (ulong)guest.Accepted | VhostUserNetBackend.ProtocolFeaturesBit | VhostUserNetBackend.LogAllFeatureBit);
        for (int q = 0; q < 2; q++)
        {
            frontend.SetVringAddr(guest.RingAddress(q) with { Flags = VhostUserVringAddress.LogFlag, LogGuestAddress = LogGuestAddress(q) });
        }
    }

    private static ulong LogGuestAddress(int ring) => 0x8_0000UL + ((ulong)ring * 0x4000);

    /// <summary>A log covering every guest-physical address of the guest's memory (as QEMU's vhost_get_log_size: whole u64 chunks).</summary>
    private static ulong LogBytesFor(VhostGuest guest)
    {
        ulong pages = (VhostGuest.RegionStart + guest.RegionDescription.Size + 4095) >> PageShift;
        return ((pages + 63) / 64) * 8;
    }

    private static void SendOne(VhostGuest guest, int i)
    {
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            if (guest.Driver.TrySend(0, EndToEndTests.Frame(i), default))
            {
                return;
            }

            guest.Driver.ReclaimTransmitted(0);
            Thread.Sleep(1);
        }

        Assert.Fail($"frame {i} could not be sent");
    }

    /// <summary>Receives frames in place and records the guest-physical range of every receive buffer the device wrote.</summary>
    private sealed class RxBufferRecorder(VhostGuest guest) : INetFrameReceiver
    {
        public List<(ulong Start, ulong Length)> Buffers { get; } = [];

        public void ReceiveOne(VhostGuest g)
        {
            RxBufferRecorder self = this;
            for (int spin = 0; spin < 500; spin++)
            {
                if (g.Driver.ReceiveBatch(0, ref self, 1) == 1)
                {
                    g.Driver.ReclaimTransmitted(0);
                    return;
                }

                if (!g.Driver.EnableUsedNotifications(0))
                {
                    g.Calls[0].Read(20, out _);
                }
            }

            Assert.Fail("a frame did not come back");
        }

        public unsafe void OnFrame(in VirtioNetHeader header, in NetReceivedFrame frame)
        {
            int headerSize = guest.Driver.HeaderLayout.Size;
            for (int i = 0; i < frame.BufferCount; i++)
            {
                ReadOnlySpan<byte> b = frame.GetBuffer(i);
                ulong host = (ulong)Unsafe.AsPointer(ref MemoryMarshal.GetReference(b));
                ulong start = VhostGuest.RegionStart + (host - guest.UserBase);
                ulong length = (ulong)b.Length;
                if (i == 0)
                {
                    start -= (ulong)headerSize;   // the header the device wrote before the frame
                    length += (ulong)headerSize;
                }

                Buffers.Add((start, length));
            }
        }
    }

    /// <summary>A memfd the test shares as the log, read through its own mapping.</summary>
    private sealed unsafe class SharedLog : IDisposable
    {
        private readonly MemfdGuestRegion _region;

        public SharedLog(ulong size)
        {
            _region = MemfdGuestRegion.Create(new GuestAddress(0), size, "dirty-log");
            Size = size;
        }

        public ulong Size { get; }

        public SafeFileDescriptor Fd => _region.Handle;

        public Span<byte> Bytes => new((void*)_region.Region.HostAddress, (int)Size);

        public bool IsSet(ulong page) => (page >> 3) < Size && (Volatile.Read(ref Bytes[(int)(page >> 3)]) & (1 << (int)(page & 7))) != 0;

        public int CountSet()
        {
            int n = 0;
            foreach (byte b in Bytes)
            {
                n += System.Numerics.BitOperations.PopCount(b);
            }

            return n;
        }

        public List<ulong> SetPages()
        {
            var pages = new List<ulong>();
            for (ulong p = 0; p < Size * 8; p++)
            {
                if (IsSet(p))
                {
                    pages.Add(p);
                }
            }

            return pages;
        }

        public void Clear() => Bytes.Clear();

        public void Fill(byte value) => Bytes.Fill(value);

        public void Dispose() => _region.Dispose();
    }
}
