using System;
using System.IO;
using Tmds.Linux;
using VirtioRing.Memory;
using Xunit;

namespace VirtioRing.Linux.Tests;

public sealed class MemfdGuestRegionTests
{
    private static readonly GuestAddress Base = new(0x10_0000);

    [Fact]
    public void Create_WriteThroughGuestMemory_ReadsBackAndIsZeroedFirst()
    {
        using var memory = new GuestMemory([MemfdGuestRegion.Create(Base, 64 * 1024).Region]);
        var before = new byte[16];
        memory.Read(new GuestAddress(Base.Value + 4000), before);
        Assert.All(before, b => Assert.Equal(0, b));

        byte[] data = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        memory.Write(new GuestAddress(Base.Value + 4090), data);   // across a page boundary
        var back = new byte[data.Length];
        memory.Read(new GuestAddress(Base.Value + 4090), back);
        Assert.Equal(data, back);
    }

    [Fact]
    public void Map_SecondMappingOfTheSameFd_SeesWritesBothWays()
    {
        using var first = MemfdGuestRegion.Create(Base, 3 * 4096, "test-shared");
        using var second = MemfdGuestRegion.Map(first.Handle, 0, first.Size, new GuestAddress(0x8000_0000));
        using var a = new GuestMemory([first.Region], ownsRegions: false);
        using var b = new GuestMemory([second.Region], ownsRegions: false);
        Assert.NotEqual(first.Region.HostAddress, second.Region.HostAddress);

        a.Write(new GuestAddress(Base.Value + 100), [0xAA, 0xBB]);
        Assert.Equal(new byte[] { 0xAA, 0xBB }, b.GetSpan(new GuestAddress(0x8000_0000 + 100), 2).ToArray());

        b.Write(new GuestAddress(0x8000_0000 + 3 * 4096 - 1), [0x5A]);
        Assert.Equal(0x5A, a.GetSpan(new GuestAddress(Base.Value + 3 * 4096 - 1), 1)[0]);
    }

    [Fact]
    public void Map_UnalignedOffset_RegionStartsAtThatByte()
    {
        using var whole = MemfdGuestRegion.Create(Base, 4 * 4096);
        using var wholeMemory = new GuestMemory([whole.Region], ownsRegions: false);
        wholeMemory.Write(new GuestAddress(Base.Value + 4096 + 123), [0x42, 0x43]);

        using var part = MemfdGuestRegion.Map(whole.Handle, 4096 + 123, 2 * 4096, new GuestAddress(0));
        Assert.Equal(4096UL + 123, part.Offset);
        using var partMemory = new GuestMemory([part.Region], ownsRegions: false);
        Assert.Equal(new byte[] { 0x42, 0x43 }, partMemory.GetSpan(new GuestAddress(0), 2).ToArray());
    }

    [Theory]
    [InlineData(0UL, 4 * 4096UL + 1)]                 // one byte past the end
    [InlineData(4 * 4096UL, 1UL)]                     // offset at the end
    [InlineData(4 * 4096UL + 1, 1UL)]                 // offset past the end
    [InlineData(ulong.MaxValue - 10, 100UL)]          // offset + size wraps 2^64
    [InlineData(4096UL, ulong.MaxValue - 4095)]       // size huge, sum wraps
    [InlineData(0UL, 0UL)]                            // empty
    public void Map_RangePastTheEndOrOverflowing_ThrowsArgumentOutOfRange(ulong offset, ulong size)
    {
        using var region = MemfdGuestRegion.Create(Base, 4 * 4096);
        // (That the failure leaves no fd or mapping behind is checked by FdLeakTests, which runs alone.)
        Assert.Throws<ArgumentOutOfRangeException>(() => MemfdGuestRegion.Map(region.Handle, offset, size, new GuestAddress(0)));
    }

    [Fact]
    public void Map_NotAMappableFile_ThrowsLinuxException()
    {
        using var e = new EventFd();
        // fstat of an eventfd gives size 0, so the range check fires first for any size.
        Assert.Throws<ArgumentOutOfRangeException>(() => MemfdGuestRegion.Map(e.Handle, 0, 4096, new GuestAddress(0)));
    }

    [Fact]
    public void Map_ReadOnlyDescriptor_ThrowsLinuxExceptionWithEacces()
    {
        using var region = MemfdGuestRegion.Create(Base, 4096);
        string path = $"/proc/self/fd/{region.Handle.Fd}";
        using var readOnly = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        LinuxException ex = Assert.Throws<LinuxException>(() => MemfdGuestRegion.Map(readOnly, 0, 4096, new GuestAddress(0)));
        Assert.Equal("mmap", ex.CallName);
        Assert.Equal(LibC.EACCES, ex.Errno);
        Assert.Contains("Permission denied", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public unsafe void Map_SealableUnsealedMemfd_SealedAgainstShrinkingBeforeMapping()
    {
        using SafeFileDescriptor fd = NewMemfd(LibC.MFD_CLOEXEC | LibC.MFD_ALLOW_SEALING, 8192);
        using (MemfdGuestRegion plain = MemfdGuestRegion.Map(fd, 0, 8192, Base))
        {
            Assert.False(plain.IsSealedAgainstShrinking);   // not asked: the file is left as it is
            Assert.Equal(0, LibC.fcntl(fd.Fd, LibC.F_GET_SEALS) & LibC.F_SEAL_SHRINK);
        }

        using MemfdGuestRegion region = MemfdGuestRegion.Map(fd, 0, 8192, Base, sealAgainstShrinking: true);
        Assert.True(region.IsSealedAgainstShrinking);
        Assert.NotEqual(0, LibC.fcntl(fd.Fd, LibC.F_GET_SEALS) & LibC.F_SEAL_SHRINK);
        Assert.Equal(-1, LibC.ftruncate(fd.Fd, 4096));     // the sender can no longer cut it under us
        Assert.Equal(LibC.EPERM, LibC.errno);
        Assert.Equal(0, LibC.ftruncate(fd.Fd, 16384));     // growing stays allowed
        using var memory = new GuestMemory([region.Region], ownsRegions: false);
        memory.GetSpan(Base, 8192).Fill(0x5a);   // the whole mapping is usable
    }

    [Fact]
    public unsafe void Map_MemfdWithoutSealing_MappedButReportedUnsealed()
    {
        using SafeFileDescriptor fd = NewMemfd(LibC.MFD_CLOEXEC, 4096);   // F_SEAL_SEAL from birth
        using MemfdGuestRegion region = MemfdGuestRegion.Map(fd, 0, 4096, Base, sealAgainstShrinking: true);
        Assert.False(region.IsSealedAgainstShrinking);
        Assert.Equal(0, LibC.fcntl(fd.Fd, LibC.F_GET_SEALS) & LibC.F_SEAL_SHRINK);
    }

    [Fact]
    public void Map_TmpfsFile_MappedButReportedUnsealed()
    {
        string path = Path.Combine("/dev/shm", "virtioring-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var f = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite))
            {
                f.SetLength(4096);
            }

            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            using MemfdGuestRegion region = MemfdGuestRegion.Map(handle, 0, 4096, Base, sealAgainstShrinking: true);
            Assert.False(region.IsSealedAgainstShrinking);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Create_Region_ReportsSealed()
    {
        using var region = MemfdGuestRegion.Create(Base, 4096);
        Assert.True(region.IsSealedAgainstShrinking);
    }

    internal static unsafe SafeFileDescriptor NewMemfd(uint flags, long size)
    {
        byte* name = stackalloc byte[] { (byte)'t', 0 };
        int raw = LibC.memfd_create(name, flags);
        Assert.True(raw >= 0, "memfd_create");
        var fd = new SafeFileDescriptor(raw, ownsHandle: true);
        Assert.Equal(0, LibC.ftruncate(raw, size));
        return fd;
    }

    [Fact]
    public unsafe void Create_SealedAgainstResize_FtruncateFailsWithEperm()
    {
        using var region = MemfdGuestRegion.Create(Base, 8192);
        Assert.Equal(-1, LibC.ftruncate(region.Handle.Fd, 4096));
        Assert.Equal(LibC.EPERM, LibC.errno);
        Assert.Equal(-1, LibC.ftruncate(region.Handle.Fd, 16384));
    }

    [Fact]
    public void Create_ZeroSizeOrWrapping_ThrowsArgumentOutOfRange()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MemfdGuestRegion.Create(Base, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => MemfdGuestRegion.Create(new GuestAddress(ulong.MaxValue - 100), 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => MemfdGuestRegion.Create(Base, 4096, new string('x', 250)));
    }

    [Fact]
    public void Dispose_Region_UnmapsAndClosesTheFd()
    {
        var region = MemfdGuestRegion.Create(Base, 4096, "dispose-me");
        int fd = region.Handle.Fd;
        Assert.Contains("memfd:dispose-me", new FileInfo($"/proc/self/fd/{fd}").LinkTarget, StringComparison.Ordinal);
        region.Region.Dispose();
        Assert.True(region.Handle.IsClosed);
        Assert.Throws<ObjectDisposedException>(() => region.Region.HostAddress);
        region.Dispose();   // idempotent
    }
}
