using System;
using System.Collections.Generic;
using VirtioRing.Linux;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Driver;
using VirtioRing.VhostUser.Protocol;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Infrastructure;

/// <summary>
/// The guest side of a vhost-user test: memfd guest memory, a NetDriver over rings in it, eventfds for
/// kicks and calls, and the front-end's view of the memory (user address = where the test mapped it,
/// as QEMU's are its own mappings).
/// </summary>
public sealed class VhostGuest : IDisposable
{
    public const ulong RegionStart = 0x10_0000;

    private readonly MemfdGuestRegion _region;

    /// <param name="queuePairs">More than 1: the guest negotiates MQ (and CTRL_VQ, which MQ needs; the control ring is the
    /// front-end's, as QEMU's, and is not given to the back-end) and the driver sends and receives on every pair.</param>
    /// <param name="without">Features the guest does not accept (on top of the usual ones), e.g. EVENT_IDX as DPDK's virtio PMD.</param>
    public VhostGuest(NetFeatures offered, bool packed, int queueSize = 256, int queuePairs = 1, NetFeatures without = NetFeatures.None)
    {
        NetFeatures wanted = queuePairs > 1
            ? NetDriverOptions.DefaultFeatures & ~(NetFeatures.Rss | NetFeatures.HashReport)
            : NetDriverOptions.DefaultFeatures & ~(NetFeatures.CtrlVq | NetFeatures.Mq | NetFeatures.Rss);
        wanted &= ~without;
        wanted = packed ? wanted | NetFeatures.RingPacked : wanted & ~NetFeatures.RingPacked;
        ulong bufferBytes;
        using (GuestMemory probeMemory = GuestMemory.Allocate(new GuestAddress(RegionStart), 4096))
        {
            var probe = new NetDriver(new NetDriverOptions(probeMemory, new GuestAddress(RegionStart), 4096) { WantedFeatures = wanted, QueuePairs = queuePairs });
            Accepted = probe.Negotiate(offered);
            bufferBytes = probe.GetBufferAreaBytes(queueSize);
        }

        Assert.Equal(packed, (Accepted & NetFeatures.RingPacked) != 0);
        ulong ringBytes = (NetDriverRings.GetRequiredBytes(queuePairs, queueSize, Accepted) + 4095) & ~4095UL;
        _region = MemfdGuestRegion.Create(new GuestAddress(RegionStart), ringBytes + bufferBytes, "vhost-guest");
        Memory = new GuestMemory([_region.Region], ownsRegions: false);
        Driver = new NetDriver(new NetDriverOptions(Memory, new GuestAddress(RegionStart + ringBytes), bufferBytes) { WantedFeatures = wanted, QueuePairs = queuePairs });
        Driver.Negotiate(offered);
        Rings = NetDriverRings.Create(Memory, new GuestAddress(RegionStart), ringBytes, queuePairs, queueSize, Accepted);
        Assert.Equal((2 * queuePairs) + (queuePairs > 1 ? 1 : 0), Rings.Count);
        QueuePairs = queuePairs;
        for (int i = 0; i < Rings.Count; i++)
        {
            Kicks.Add(new EventFd());
            Calls.Add(new EventFd());
        }
    }

    public NetFeatures Accepted { get; }

    /// <summary>Gets the queue pairs (the rings the back-end serves are the first 2 × QueuePairs).</summary>
    public int QueuePairs { get; }

    public GuestMemory Memory { get; }

    public NetDriver Driver { get; }

    public NetDriverRings Rings { get; }

    public List<EventFd> Kicks { get; } = [];

    public List<EventFd> Calls { get; } = [];

    public SafeFileDescriptor MemoryFd => _region.Handle;

    public ulong UserBase => (ulong)_region.Region.HostAddress;

    public VhostUserMemoryRegion RegionDescription => new(RegionStart, _region.Size, UserBase, 0);

    public ulong UserAddress(GuestAddress gpa) => UserBase + (gpa.Value - RegionStart);

    public VhostUserVringAddress RingAddress(int index) => new(
        (uint)index, 0, UserAddress(Rings[index].DescriptorArea), UserAddress(Rings[index].DeviceArea), UserAddress(Rings[index].DriverArea), 0);

    /// <summary>QEMU's start sequence for every ring (vhost_virtqueue_start): NUM, BASE, ADDR, KICK, CALL; then ENABLE.</summary>
    public void StartRings(TestFrontend frontend, IReadOnlyList<uint>? bases = null)
    {
        for (int i = 0; i < 2 * QueuePairs; i++)
        {
            frontend.SetState(VhostUserRequest.SetVringNum, (uint)i, (uint)Rings[i].Size);
            frontend.SetState(VhostUserRequest.SetVringBase, (uint)i, bases?[i] ?? (Rings.IsPacked ? 0x8000_8000u : 0u));
            frontend.SetVringAddr(RingAddress(i));
            frontend.SetVringFd(VhostUserRequest.SetVringKick, (uint)i, Kicks[i]);
            frontend.SetVringFd(VhostUserRequest.SetVringCall, (uint)i, Calls[i]);
        }

        for (int i = 0; i < 2 * QueuePairs; i++)
        {
            frontend.SetState(VhostUserRequest.SetVringEnable, (uint)i, 1);
        }
    }

    public void Dispose()
    {
        foreach (EventFd e in Kicks)
        {
            e.Dispose();
        }

        foreach (EventFd e in Calls)
        {
            e.Dispose();
        }

        Memory.Dispose();
        _region.Dispose();
    }
}
