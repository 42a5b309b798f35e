using System;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Control;

namespace VirtioRing.Net.Engine;

/// <summary>How to build a <see cref="NetDevice"/>.</summary>
public sealed class NetDeviceOptions
{
    /// <summary>The offer a device makes with a backend that carries everything (the default of <see cref="OfferedFeatures"/>).</summary>
    public const NetFeatures DefaultOfferedFeatures =
        NetFeatures.Version1 | NetFeatures.Csum | NetFeatures.GuestCsum | NetFeatures.CtrlGuestOffloads | NetFeatures.Mtu | NetFeatures.Mac |
        NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.GuestEcn | NetFeatures.GuestUfo | NetFeatures.GuestUso4 | NetFeatures.GuestUso6 |
        NetFeatures.HostTso4 | NetFeatures.HostTso6 | NetFeatures.HostEcn | NetFeatures.HostUfo | NetFeatures.HostUso |
        NetFeatures.MrgRxBuf | NetFeatures.Status | NetFeatures.CtrlVq | NetFeatures.CtrlRx | NetFeatures.CtrlVlan | NetFeatures.CtrlRxExtra |
        NetFeatures.Mq | NetFeatures.CtrlMacAddr | NetFeatures.Rss | NetFeatures.HashReport |
        NetFeatures.IndirectDesc | NetFeatures.EventIdx | NetFeatures.RingPacked | NetFeatures.InOrder;

    /// <summary>Gets the device MAC (config space <c>mac</c>).</summary>
    public MacAddress Mac { get; init; } = MacAddress.Parse("52:54:00:12:34:56");

    /// <summary>Gets <c>max_virtqueue_pairs</c> (1..0x8000).</summary>
    public int MaxQueuePairs { get; init; } = 1;

    /// <summary>Gets the config space <c>mtu</c> (68..65535; used with <c>VIRTIO_NET_F_MTU</c>).</summary>
    public int Mtu { get; init; } = 1500;

    /// <summary>Gets the offer before it is restricted to what the backend carries plus <see cref="SoftwareOffloads"/>.</summary>
    public NetFeatures OfferedFeatures { get; init; } = DefaultOfferedFeatures;

    /// <summary>
    /// Gets the offloads the engine completes in software when the backend lacks them (checksum
    /// completion, TSO/USO/UFO segmentation, hash calculation): by default all of them, so the guest
    /// is offered them whatever the backend. Set <see cref="NetOffloads.None"/> to offer only what the
    /// backend carries.
    /// </summary>
    public NetOffloads SoftwareOffloads { get; init; } = NetOffloads.All;

    /// <summary>Gets the backend (required).</summary>
    public INetBackend? Backend { get; init; }

    /// <summary>Gets the control-queue limits; null for defaults derived from <see cref="Mac"/> and <see cref="MaxQueuePairs"/>.</summary>
    public NetControlLimits? ControlLimits { get; init; }

    /// <summary>Gets how the queue pairs are run.</summary>
    public NetWorkerMode WorkerMode { get; init; } = NetWorkerMode.Blocking;

    /// <summary>Gets the most chains a pair moves per round before it publishes and notifies (1..4096).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Gets the device name (worker thread names, metric tags).</summary>
    public string Name { get; init; } = "virtio-net";

    /// <summary>Gets the <see cref="System.Diagnostics.Metrics.Meter"/> name the counters are published under.</summary>
    public string MeterName { get; init; } = NetDevice.DefaultMeterName;

    /// <summary>Gets the factory of a pair's worker signal (argument: the pair index); null for a <see cref="Doorbell"/>.</summary>
    public Func<int, WorkerSignal>? SignalFactory { get; init; }
}
