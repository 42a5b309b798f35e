using System.Runtime.InteropServices;

namespace VirtioRing.Linux.Interop;

/// <summary>
/// The TUN/TAP driver's user API (<c>linux/if_tun.h</c>) with its C names: the <c>ioctl</c> request
/// numbers, the interface flags and the offload bits, and the vectored I/O calls the TAP backend
/// makes on its queue descriptors. Tmds.LibC has none of these; <c>TapLayoutTests</c> compiles a C
/// program against the machine's headers and compares every value here (and <see cref="ifreq"/>).
/// </summary>
/// <remarks>
/// Request numbers are <c>_IOW('T', n, int)</c> = <c>0x4004_54nn</c> and <c>_IOR('T', n, unsigned int)</c>
/// = <c>0x8004_54nn</c> (x86-64 and arm64 use the generic <c>_IOC</c> encoding).
/// </remarks>
internal static unsafe partial class Tun
{
    private const string Libc = "libc.so.6";   // as Tmds.LibC

    /// <summary>The length of an interface name buffer, with its NUL (<c>net/if.h</c>).</summary>
    public const int IFNAMSIZ = 16;

    /// <summary>The most queues a multi-queue TAP can have (<c>MAX_TAP_QUEUES</c> in <c>drivers/net/tun.c</c>; not in the UAPI headers).</summary>
    public const int MAX_TAP_QUEUES = 256;

    /// <summary>The most iovecs one <c>readv</c>/<c>writev</c> takes (<c>IOV_MAX</c>, <c>UIO_MAXIOV</c>).</summary>
    public const int IOV_MAX = 1024;

    public const uint TUNSETIFF = 0x4004_54CA;
    public const uint TUNSETPERSIST = 0x4004_54CB;
    public const uint TUNGETFEATURES = 0x8004_54CF;
    public const uint TUNSETOFFLOAD = 0x4004_54D0;
    public const uint TUNGETIFF = 0x8004_54D2;
    public const uint TUNGETSNDBUF = 0x8004_54D3;
    public const uint TUNSETSNDBUF = 0x4004_54D4;
    public const uint TUNGETVNETHDRSZ = 0x8004_54D7;
    public const uint TUNSETVNETHDRSZ = 0x4004_54D8;
    public const uint TUNSETQUEUE = 0x4004_54D9;

    public const short IFF_TAP = 0x0002;
    public const short IFF_MULTI_QUEUE = 0x0100;
    public const short IFF_ATTACH_QUEUE = 0x0200;
    public const short IFF_DETACH_QUEUE = 0x0400;
    public const short IFF_PERSIST = 0x0800;
    public const short IFF_NO_PI = 0x1000;
    public const short IFF_VNET_HDR = 0x4000;

    public const uint TUN_F_CSUM = 0x01;
    public const uint TUN_F_TSO4 = 0x02;
    public const uint TUN_F_TSO6 = 0x04;
    public const uint TUN_F_TSO_ECN = 0x08;
    public const uint TUN_F_UFO = 0x10;
    public const uint TUN_F_USO4 = 0x20;   // Linux 6.2; older headers lack it
    public const uint TUN_F_USO6 = 0x40;

    /// <summary><c>ioctl</c> with a pointer argument (the request is <c>unsigned long</c> in glibc's prototype).</summary>
    [LibraryImport(Libc, SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* arg);

    /// <summary><c>ioctl</c> with an integer argument passed by value (<c>TUNSETPERSIST</c>, <c>TUNSETOFFLOAD</c>).</summary>
    [LibraryImport(Libc, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl_value(int fd, nuint request, nuint arg);

    /// <summary><c>readv</c>: bytes read, or -1 with <c>errno</c>.</summary>
    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint readv(int fd, Tmds.Linux.iovec* iov, int iovcnt);

    /// <summary><c>writev</c>: bytes written, or -1 with <c>errno</c>.</summary>
    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint writev(int fd, Tmds.Linux.iovec* iov, int iovcnt);

    /// <summary><c>if_nametoindex</c>: the interface index in the caller's network namespace, or 0 when there is none of that name.</summary>
    [LibraryImport(Libc, SetLastError = true)]
    public static partial uint if_nametoindex(byte* ifname);
}
