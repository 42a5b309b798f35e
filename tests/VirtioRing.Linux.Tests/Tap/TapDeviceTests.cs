using System;
using Tmds.Linux;
using VirtioRing.Linux.Tap;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net;
using Xunit;

namespace VirtioRing.Linux.Tests.Tap;

/// <summary>Opening TAP devices for real (in a namespace): names, persistence, attaching by name, queues and device-wide settings.</summary>
[Collection(TapCollection.Name)]
public sealed class TapDeviceTests
{
    [RootFact]
    public void Open_PersistentDevice_OutlivesItsDescriptorsAndCanBeAttachedByName()
    {
        using NetNamespace ns = NetNamespace.Create();
        string name = ns.Enter(() =>
        {
            using TapDevice created = TapDevice.Open(new TapOptions { Name = "vrp%d", Persistent = true });
            Assert.True(created.WasCreated);
            Assert.True(created.IsPersistent);
            Assert.Equal("vrp0", created.Name);
            return created.Name;
        });

        Assert.Contains(name, ns.Ip("link", "show", "dev", name), StringComparison.Ordinal);   // still there

        ns.Enter(() =>
        {
            using TapBackend attached = TapBackend.OpenExisting(name);
            Assert.False(attached.Device.WasCreated);
            Assert.Equal(name, attached.Name);
            attached.Device.SetPersistent(false);   // now it goes with its last descriptor
        });

        Assert.NotEqual(0, Tool.TryRun("ip", "-n", ns.Name, "link", "show", "dev", name).Code);
    }

    [RootFact]
    public void Open_NotPersistent_DeviceGoesWithTheLastDescriptor()
    {
        using NetNamespace ns = NetNamespace.Create();
        string name = ns.Enter(() =>
        {
            using TapDevice d = TapDevice.Open(new TapOptions { Queues = 3 });
            Assert.Equal(3, d.QueueCount);
            Assert.True(d.IsMultiQueue);
            Assert.StartsWith("vrtap", d.Name, StringComparison.Ordinal);
            for (int q = 0; q < 3; q++)
            {
                Assert.True(d.GetQueueHandle(q).IsNonBlocking());
                Assert.True(d.IsQueueAttached(q));
            }

            return d.Name;
        });

        Assert.NotEqual(0, Tool.TryRun("ip", "-n", ns.Name, "link", "show", "dev", name).Code);
    }

    [RootFact]
    public void Open_ExistingSingleQueueTapAsMultiQueue_FailsNamingTheReason()
    {
        using NetNamespace ns = NetNamespace.Create();
        ns.Enter(() =>
        {
            using TapDevice single = TapDevice.Open(new TapOptions { Name = "vrs0" });
            var e = Assert.Throws<LinuxException>(() => TapDevice.Open(new TapOptions { Name = "vrs0", Queues = 2, CreateIfMissing = false }));
            Assert.Equal(LibC.EINVAL, e.Errno);
            Assert.Contains("TUNSETIFF", e.Message, StringComparison.Ordinal);
            Assert.Contains("IFF_MULTI_QUEUE", e.Message, StringComparison.Ordinal);
        });
    }

    [RootFact]
    public void Open_NameOfAnInterfaceThatIsNotATap_FailsAndClosesWhatItOpened()
    {
        using NetNamespace ns = NetNamespace.Create();
        ns.Enter(() =>
        {
            var e = Assert.Throws<LinuxException>(() => TapDevice.Open(new TapOptions { Name = "lo", CreateIfMissing = false }));
            Assert.Equal(LibC.EINVAL, e.Errno);
            Assert.Contains("\"lo\"", e.Message, StringComparison.Ordinal);
        });
    }

    [RootFact]
    public void Settings_HeaderSizeOffloadsAndQueues_ReachTheKernel()
    {
        using NetNamespace ns = NetNamespace.Create();
        ns.Enter(() =>
        {
            using TapDevice d = TapDevice.Open(new TapOptions { Queues = 2 });
            Assert.Equal(TapDevice.InitialVnetHeaderSize, d.VnetHeaderSize);
            Assert.Equal(12, KernelHeaderSize(d));
            d.SetVnetHeaderSize(20);
            Assert.Equal(20, KernelHeaderSize(d));
            d.SetVnetHeaderSize(10);
            Assert.Equal(10, KernelHeaderSize(d));
            Assert.Throws<ArgumentOutOfRangeException>(() => d.SetVnetHeaderSize(16));

            // This kernel (6.2+) has USO; every offload the TAP knows is supported, never the hash report.
            Assert.Equal(NetOffloads.All & ~NetOffloads.HashReport, d.SupportedOffloads);
            Assert.Equal(NetOffloads.None, d.ReceiveOffloads);
            Assert.Equal(NetOffloads.Checksum | NetOffloads.Tso4, d.SetReceiveOffloads(NetOffloads.Checksum | NetOffloads.Tso4 | NetOffloads.HashReport));
            Assert.Equal(NetOffloads.None, d.SetReceiveOffloads(NetOffloads.Tso4));   // TSO without checksum offload: nothing

            d.DetachQueue(1);
            Assert.False(d.IsQueueAttached(1));
            d.DetachQueue(1);   // already detached: nothing happens
            d.AttachQueue(1);
            Assert.True(d.IsQueueAttached(1));
        });
    }

    private static unsafe int KernelHeaderSize(TapDevice d)
    {
        int size = 0;
        Assert.Equal(0, VirtioRing.Linux.Interop.Tun.ioctl(d.GetQueueHandle(0).Fd, VirtioRing.Linux.Interop.Tun.TUNGETVNETHDRSZ, &size));
        return size;
    }
}
