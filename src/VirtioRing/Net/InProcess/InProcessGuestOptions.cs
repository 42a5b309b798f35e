using VirtioRing.Net.Driver;
using VirtioRing.Net.Engine;
using VirtioRing.Net.Multiqueue;

namespace VirtioRing.Net.InProcess;

/// <summary>How <see cref="InProcessGuest.Create"/> builds a guest: its address, queues, rings and features.</summary>
public sealed class InProcessGuestOptions
{
    /// <summary>Gets the guest's MAC address (the device's config space <c>mac</c>).</summary>
    public MacAddress Mac { get; init; } = MacAddress.Parse("52:54:00:00:00:01");

    /// <summary>Gets the number of queue pairs (1..64); more than one negotiates <c>VIRTIO_NET_F_MQ</c>.</summary>
    public int QueuePairs { get; init; } = 1;

    /// <summary>Gets the ring size of every receive and transmit queue (a power of two for split rings).</summary>
    public int QueueSize { get; init; } = 256;

    /// <summary>Gets whether the rings are packed (§2.8) rather than split (§2.7).</summary>
    public bool Packed { get; init; }

    /// <summary>Gets the features the guest's driver wants (before the ring layout choice is applied).</summary>
    public NetFeatures DriverFeatures { get; init; } = NetDriverOptions.DefaultFeatures;

    /// <summary>Gets the features the device offers (the backend's offloads and software offloads restrict them further).</summary>
    public NetFeatures DeviceFeatures { get; init; } = NetDeviceOptions.DefaultOfferedFeatures;

    /// <summary>Gets how the device's queue pairs are driven (threads by default; <see cref="NetWorkerMode.Manual"/> for deterministic tests).</summary>
    public NetWorkerMode WorkerMode { get; init; } = NetWorkerMode.Blocking;

    /// <summary>Gets the device's batch size (chains per round, one publish and one notify each).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Gets the driver's transmit queue policy, or <see langword="null"/> for the flow hash.</summary>
    public ITxQueueSelector? TxQueueSelector { get; init; }

    /// <summary>Gets the size of each mergeable receive buffer.</summary>
    public int MergeableBufferSize { get; init; } = 2048;

    /// <summary>Gets the size of each transmit buffer (frames longer than one go as chains of several).</summary>
    public int TxBufferSize { get; init; } = 2048;

    /// <summary>Gets the factory of the device's per-pair worker signals (<see cref="NetDeviceOptions.SignalFactory"/>), or <see langword="null"/> for a <see cref="Doorbell"/> each.</summary>
    public System.Func<int, WorkerSignal>? SignalFactory { get; init; }

    /// <summary>Gets the device's name (metrics tag).</summary>
    public string Name { get; init; } = "guest";
}
