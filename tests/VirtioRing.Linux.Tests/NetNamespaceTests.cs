using System.IO;
using VirtioRing.Linux.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.Linux.Tests;

/// <summary>The namespace fixture the backend tests stand on: it isolates, and it leaves nothing behind.</summary>
public sealed class NetNamespaceTests
{
    [RootFact]
    public void Create_ThenDispose_LeavesNoNamespace()
    {
        string name;
        using (NetNamespace ns = NetNamespace.Create())
        {
            name = ns.Name;
            Assert.True(NetNamespace.Exists(name));
            ns.Ip("link", "add", "vrt0", "type", "veth", "peer", "name", "vrt1");
            Assert.Contains("vrt0", ns.Ip("-o", "link", "show"));
        }

        Assert.False(NetNamespace.Exists(name));
    }

    [RootFact]
    public void Enter_RunsInsideTheNamespace_NotInTheRoot()
    {
        using NetNamespace ns = NetNamespace.Create();
        ns.Ip("link", "add", "vrt0", "type", "veth", "peer", "name", "vrt1");

        // /sys/class/net reflects the namespace of the thread that mounted it, so use the netlink view: the
        // kernel's per-namespace list in /proc/thread-self/net/dev.
        string inside = ns.Enter(() => File.ReadAllText("/proc/thread-self/net/dev"));
        string outside = File.ReadAllText("/proc/thread-self/net/dev");
        Assert.Contains("vrt0", inside);
        Assert.DoesNotContain("vrt0", outside);
    }
}
