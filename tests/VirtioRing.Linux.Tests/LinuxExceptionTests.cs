using Tmds.Linux;
using Xunit;

namespace VirtioRing.Linux.Tests;

public sealed class LinuxExceptionTests
{
    [Fact]
    public void Constructor_Errno_MessageHasCallNameStrerrorAndNumber()
    {
        var ex = new LinuxException("epoll_ctl", LibC.ENOENT);
        Assert.Equal("epoll_ctl failed: No such file or directory (errno 2)", ex.Message);
        Assert.Equal(LibC.ENOENT, ex.Errno);
        Assert.Equal(LibC.ENOENT, ex.NativeErrorCode);
        Assert.Equal("epoll_ctl", ex.CallName);
    }

    [Fact]
    public void Constructor_Detail_IsAppended()
    {
        var ex = new LinuxException("mmap", LibC.ENOMEM, "offset 0, length 4096");
        Assert.Equal("mmap failed: Cannot allocate memory (errno 12); offset 0, length 4096", ex.Message);
    }

    [Fact]
    public void SetNonBlocking_ClosedNumber_ThrowsWithEbadf()
    {
        var h = new SafeFileDescriptor(999_999, ownsHandle: false);
        LinuxException ex = Assert.Throws<LinuxException>(() => h.SetNonBlocking(true));
        Assert.Equal(LibC.EBADF, ex.Errno);
    }
}
