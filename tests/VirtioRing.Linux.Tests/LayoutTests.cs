using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using Tmds.Linux;
using VirtioRing.Linux.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.Linux.Tests;

/// <summary>
/// The C layouts and constants the library relies on, compiled with <c>cc</c> against this machine's
/// libc and kernel headers and compared with what the managed side uses. The library writes no
/// struct of its own yet (Tmds.LibC supplies <c>epoll_event</c>, <c>pollfd</c>, <c>stat</c>); these
/// checks pin Tmds.LibC's definitions, and later hand-written layouts (TAP, TPACKET_V3) add lines here.
/// </summary>
public sealed class LayoutTests
{
    private const string Program = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stddef.h>
        #include <fcntl.h>
        #include <poll.h>
        #include <sys/epoll.h>
        #include <sys/eventfd.h>
        #include <sys/mman.h>
        #include <sys/stat.h>
        #define P(name, value) printf("%s=%lld\n", name, (long long)(value))
        int main(void) {
            P("sizeof(struct epoll_event)", sizeof(struct epoll_event));
            P("offsetof(struct epoll_event, events)", offsetof(struct epoll_event, events));
            P("offsetof(struct epoll_event, data)", offsetof(struct epoll_event, data));
            P("sizeof(struct pollfd)", sizeof(struct pollfd));
            P("offsetof(struct pollfd, events)", offsetof(struct pollfd, events));
            P("offsetof(struct pollfd, revents)", offsetof(struct pollfd, revents));
            P("sizeof(struct stat)", sizeof(struct stat));
            P("offsetof(struct stat, st_size)", offsetof(struct stat, st_size));
            P("EFD_NONBLOCK", EFD_NONBLOCK);
            P("EFD_CLOEXEC", EFD_CLOEXEC);
            P("EFD_SEMAPHORE", EFD_SEMAPHORE);
            P("EPOLL_CLOEXEC", EPOLL_CLOEXEC);
            P("EPOLLIN", EPOLLIN);
            P("EPOLL_CTL_ADD", EPOLL_CTL_ADD);
            P("EPOLL_CTL_DEL", EPOLL_CTL_DEL);
            P("POLLIN", POLLIN);
            P("MFD_CLOEXEC", MFD_CLOEXEC);
            P("MFD_ALLOW_SEALING", MFD_ALLOW_SEALING);
            P("F_ADD_SEALS", F_ADD_SEALS);
            P("F_SEAL_SHRINK", F_SEAL_SHRINK);
            P("F_SEAL_GROW", F_SEAL_GROW);
            P("F_GETFL", F_GETFL);
            P("F_SETFL", F_SETFL);
            P("F_DUPFD_CLOEXEC", F_DUPFD_CLOEXEC);
            P("O_NONBLOCK", O_NONBLOCK);
            P("PROT_READ", PROT_READ);
            P("PROT_WRITE", PROT_WRITE);
            P("MAP_SHARED", MAP_SHARED);
            return 0;
        }
        """;

    [CcFact]
    public unsafe void CHeaders_LayoutsAndConstants_MatchTheManagedSide()
    {
        Assert.True(CCompiler.Path is not null, "CI is set but `cc` is not on PATH: install gcc and linux-libc-dev");
        Dictionary<string, long> c = CCompiler.CompileAndRun(Program);

        epoll_event ev = default;
        stat st = default;
        var managed = new Dictionary<string, long>
        {
            ["sizeof(struct epoll_event)"] = sizeof(epoll_event),
            ["offsetof(struct epoll_event, events)"] = (byte*)&ev.events - (byte*)&ev,
            ["offsetof(struct epoll_event, data)"] = (byte*)&ev.data - (byte*)&ev,
            ["sizeof(struct pollfd)"] = sizeof(pollfd),
            ["offsetof(struct pollfd, events)"] = Marshal.OffsetOf<pollfd>("<events>k__BackingField").ToInt64(),   // Tmds.LibC: auto-properties
            ["offsetof(struct pollfd, revents)"] = Marshal.OffsetOf<pollfd>("<revents>k__BackingField").ToInt64(),
            ["sizeof(struct stat)"] = sizeof(stat),
            ["offsetof(struct stat, st_size)"] = (byte*)&st.st_size - (byte*)&st,
            ["EFD_NONBLOCK"] = LibC.EFD_NONBLOCK,
            ["EFD_CLOEXEC"] = LibC.EFD_CLOEXEC,
            ["EFD_SEMAPHORE"] = LibC.EFD_SEMAPHORE,
            ["EPOLL_CLOEXEC"] = LibC.EPOLL_CLOEXEC,
            ["EPOLLIN"] = LibC.EPOLLIN,
            ["EPOLL_CTL_ADD"] = LibC.EPOLL_CTL_ADD,
            ["EPOLL_CTL_DEL"] = LibC.EPOLL_CTL_DEL,
            ["POLLIN"] = LibC.POLLIN,
            ["MFD_CLOEXEC"] = LibC.MFD_CLOEXEC,
            ["MFD_ALLOW_SEALING"] = LibC.MFD_ALLOW_SEALING,
            ["F_ADD_SEALS"] = LibC.F_ADD_SEALS,
            ["F_SEAL_SHRINK"] = LibC.F_SEAL_SHRINK,
            ["F_SEAL_GROW"] = LibC.F_SEAL_GROW,
            ["F_GETFL"] = LibC.F_GETFL,
            ["F_SETFL"] = LibC.F_SETFL,
            ["F_DUPFD_CLOEXEC"] = LibC.F_DUPFD_CLOEXEC,
            ["O_NONBLOCK"] = LibC.O_NONBLOCK,
            ["PROT_READ"] = LibC.PROT_READ,
            ["PROT_WRITE"] = LibC.PROT_WRITE,
            ["MAP_SHARED"] = LibC.MAP_SHARED,
        };

        Assert.Equal(managed.Count, c.Count);
        foreach ((string name, long value) in managed)
        {
            Assert.True(c.TryGetValue(name, out long expected), $"the C program did not print {name}");
            Assert.True(expected == value, $"{name}: C says {expected}, managed says {value}");
        }
    }
}
