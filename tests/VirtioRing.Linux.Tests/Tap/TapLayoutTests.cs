using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using Tmds.Linux;
using VirtioRing.Linux.Interop;
using VirtioRing.Linux.Tap;
using VirtioRing.Linux.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>
/// The TUN/TAP layouts and constants the TAP backend writes by hand (Tmds.LibC has none of them),
/// compiled with <c>cc</c> against this machine's <c>linux/if_tun.h</c>, <c>net/if.h</c> and
/// <c>sys/uio.h</c> and compared with the managed side.
/// </summary>
public sealed class TapLayoutTests
{
    private const string Program = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stddef.h>
        #include <limits.h>
        #include <errno.h>
        #include <sys/ioctl.h>
        #include <sys/uio.h>
        #include <sys/epoll.h>
        #include <net/if.h>
        #include <linux/if_tun.h>
        #define P(name) printf("%s=%lld\n", #name, (long long)(name))
        int main(void) {
            printf("sizeof(struct ifreq)=%lld\n", (long long)sizeof(struct ifreq));
            printf("offsetof(ifr_name)=%lld\n", (long long)offsetof(struct ifreq, ifr_name));
            printf("offsetof(ifr_flags)=%lld\n", (long long)offsetof(struct ifreq, ifr_flags));
            printf("sizeof(ifr_flags)=%lld\n", (long long)sizeof(((struct ifreq *)0)->ifr_flags));
            printf("sizeof(struct iovec)=%lld\n", (long long)sizeof(struct iovec));
            printf("offsetof(iov_len)=%lld\n", (long long)offsetof(struct iovec, iov_len));
            P(IFNAMSIZ); P(IOV_MAX);
            P(TUNSETIFF); P(TUNSETPERSIST); P(TUNGETFEATURES); P(TUNSETOFFLOAD); P(TUNGETIFF);
            P(TUNGETSNDBUF); P(TUNSETSNDBUF); P(TUNGETVNETHDRSZ); P(TUNSETVNETHDRSZ); P(TUNSETQUEUE);
            P(IFF_TAP); P(IFF_MULTI_QUEUE); P(IFF_ATTACH_QUEUE); P(IFF_DETACH_QUEUE); P(IFF_PERSIST);
            P(IFF_NO_PI); P(IFF_VNET_HDR);
            P(TUN_F_CSUM); P(TUN_F_TSO4); P(TUN_F_TSO6); P(TUN_F_TSO_ECN); P(TUN_F_UFO);
        #ifdef TUN_F_USO4
            P(TUN_F_USO4); P(TUN_F_USO6);
        #endif
            printf("EPOLLIN|EPOLLET=%lld\n", (long long)(unsigned)(EPOLLIN | EPOLLET));
            P(EPOLLOUT); P(EBADFD); P(EAGAIN); P(EINVAL); P(EIO); P(ENOBUFS); P(EMSGSIZE);
            return 0;
        }
        """;

    [CcFact]
    public unsafe void CHeaders_TunLayoutsAndConstants_MatchTheManagedSide()
    {
        Assert.True(CCompiler.Path is not null, "CI is set but `cc` is not on PATH: install gcc and linux-libc-dev");
        Dictionary<string, long> c = CCompiler.CompileAndRun(Program);

        ifreq req = default;
        var managed = new Dictionary<string, long>
        {
            ["offsetof(ifr_name)"] = (byte*)req.ifr_name - (byte*)&req,
            ["offsetof(ifr_flags)"] = (byte*)&req.ifr_flags - (byte*)&req,
            ["sizeof(ifr_flags)"] = sizeof(short),
            ["sizeof(struct iovec)"] = sizeof(iovec),
            ["offsetof(iov_len)"] = System.Runtime.InteropServices.Marshal.OffsetOf<iovec>("<iov_len>k__BackingField").ToInt64(),   // Tmds.LibC: auto-properties
            ["IFNAMSIZ"] = Tun.IFNAMSIZ,
            ["IOV_MAX"] = Tun.IOV_MAX,
            ["TUNSETIFF"] = Tun.TUNSETIFF,
            ["TUNSETPERSIST"] = Tun.TUNSETPERSIST,
            ["TUNGETFEATURES"] = Tun.TUNGETFEATURES,
            ["TUNSETOFFLOAD"] = Tun.TUNSETOFFLOAD,
            ["TUNGETIFF"] = Tun.TUNGETIFF,
            ["TUNGETSNDBUF"] = Tun.TUNGETSNDBUF,
            ["TUNSETSNDBUF"] = Tun.TUNSETSNDBUF,
            ["TUNGETVNETHDRSZ"] = Tun.TUNGETVNETHDRSZ,
            ["TUNSETVNETHDRSZ"] = Tun.TUNSETVNETHDRSZ,
            ["TUNSETQUEUE"] = Tun.TUNSETQUEUE,
            ["IFF_TAP"] = Tun.IFF_TAP,
            ["IFF_MULTI_QUEUE"] = Tun.IFF_MULTI_QUEUE,
            ["IFF_ATTACH_QUEUE"] = Tun.IFF_ATTACH_QUEUE,
            ["IFF_DETACH_QUEUE"] = Tun.IFF_DETACH_QUEUE,
            ["IFF_PERSIST"] = Tun.IFF_PERSIST,
            ["IFF_NO_PI"] = Tun.IFF_NO_PI,
            ["IFF_VNET_HDR"] = Tun.IFF_VNET_HDR,
            ["TUN_F_CSUM"] = Tun.TUN_F_CSUM,
            ["TUN_F_TSO4"] = Tun.TUN_F_TSO4,
            ["TUN_F_TSO6"] = Tun.TUN_F_TSO6,
            ["TUN_F_TSO_ECN"] = Tun.TUN_F_TSO_ECN,
            ["TUN_F_UFO"] = Tun.TUN_F_UFO,
            ["TUN_F_USO4"] = Tun.TUN_F_USO4,
            ["TUN_F_USO6"] = Tun.TUN_F_USO6,
            ["EPOLLIN|EPOLLET"] = TapReadiness.InputEvents,
            ["EPOLLOUT"] = TapReadiness.OutputEvent,
            ["EBADFD"] = LibC.EBADFD,
            ["EAGAIN"] = LibC.EAGAIN,
            ["EINVAL"] = LibC.EINVAL,
            ["EIO"] = LibC.EIO,
            ["ENOBUFS"] = LibC.ENOBUFS,
            ["EMSGSIZE"] = LibC.EMSGSIZE,
        };

        // Headers older than Linux 6.2 lack TUN_F_USO4/6 (the kernel's values are fixed by its ABI: 0x20, 0x40).
        bool hasUso = c.ContainsKey("TUN_F_USO4");
        Assert.Equal(managed.Count - (hasUso ? 0 : 2), c.Count - 1);   // every C line but sizeof(struct ifreq) is compared
        foreach ((string name, long value) in managed)
        {
            if (!hasUso && name.StartsWith("TUN_F_USO", StringComparison.Ordinal))
            {
                continue;
            }

            Assert.True(c.TryGetValue(name, out long expected), $"the C program did not print {name}");
            Assert.True(expected == value, $"{name}: C says {expected}, managed says {value}");
        }

        // The kernel copies sizeof(struct ifreq) of its own target; the managed buffer must hold at least that.
        Assert.True(c["sizeof(struct ifreq)"] <= sizeof(ifreq), $"struct ifreq is {c["sizeof(struct ifreq)"]} bytes, the managed one {sizeof(ifreq)}");
    }
}
