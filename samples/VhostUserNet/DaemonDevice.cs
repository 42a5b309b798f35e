using System.Threading;
using VirtioRing.Linux;
using VirtioRing.Linux.Packet;
using VirtioRing.Linux.Tap;
using VirtioRing.Net.Engine;
using VirtioRing.Net.Switching;
using VirtioRing.VhostUser.Backend;

namespace VhostUserNet;

/// <summary>One socket's device, its vhost-user backend and what they own.</summary>
public sealed class DaemonDevice
{
    internal DaemonDevice(string name, string socket, NetDevice device, VhostUserNetBackend backend, EpollWorkerSignalFactory signals, TapBackend? tap, PacketSocketBackend? nic, NetSwitchPort? switchPort)
    {
        SwitchPort = switchPort;
        Name = name;
        Socket = socket;
        Device = device;
        Backend = backend;
        Signals = signals;
        Tap = tap;
        Nic = nic;
    }

    /// <summary>Gets the device's name (<c>vu0</c>, <c>vu1</c>, …).</summary>
    public string Name { get; }

    /// <summary>Gets the vhost-user socket path.</summary>
    public string Socket { get; }

    /// <summary>Gets the virtio-net device.</summary>
    public NetDevice Device { get; }

    /// <summary>Gets the vhost-user backend serving <see cref="Device"/>.</summary>
    public VhostUserNetBackend Backend { get; }

    /// <summary>Gets the TAP backend, or null unless the backend is <see cref="DaemonBackend.Tap"/>.</summary>
    public TapBackend? Tap { get; }

    /// <summary>Gets the device's port on the daemon's switch, or null unless the backend is <see cref="DaemonBackend.Switch"/>.</summary>
    public NetSwitchPort? SwitchPort { get; }

    /// <summary>Gets the packet-socket backend, or null unless the backend is <see cref="DaemonBackend.Nic"/>.</summary>
    public PacketSocketBackend? Nic { get; }

    internal EpollWorkerSignalFactory Signals { get; }

    /// <summary>Gets a value indicating whether the device's serving thread runs (started and not ended).</summary>
    public bool IsServing => Thread is { IsAlive: true };

    internal Thread? Thread { get; set; }

    /// <summary>
    /// Adds up the device's queue counters (all queue pairs; the control queue is not counted). The console summary
    /// and the daemon's meter both read this, so they always agree.
    /// </summary>
    /// <returns>The totals at this moment.</returns>
    public DaemonDeviceCounters GetCounters()
    {
        long rxFrames = 0, rxBytes = 0, rxDrops = 0, txFrames = 0, txBytes = 0, txDrops = 0;
        for (int p = 0; p < Device.MaxQueuePairs; p++)
        {
            NetQueueCounters rx = Device.GetCounters(2 * p);
            NetQueueCounters tx = Device.GetCounters((2 * p) + 1);
            rxFrames += rx.Packets;
            rxBytes += rx.Bytes;
            rxDrops += rx.TotalDrops;
            txFrames += tx.Packets;
            txBytes += tx.Bytes;
            txDrops += tx.TotalDrops;
        }

        // A frame the guest had no buffer for is refused by the device (not a drop there) and dropped by the switch in
        // drop mode, which counts it on this port; under lossless flow control the sender keeps it and nothing is lost.
        rxDrops += SwitchPort?.GetCounters().DroppedNoBuffers ?? 0;
        return new DaemonDeviceCounters(rxFrames, rxBytes, rxDrops, txFrames, txBytes, txDrops, Device.IsRunning, Device.ActivePairs);
    }
}

/// <summary>A device's counters summed over its queue pairs. Directions are the device's: tx = sent by the guest, rx = delivered to the guest.</summary>
/// <param name="RxFrames">Frames written into the guest's receive buffers.</param>
/// <param name="RxBytes">Their bytes (without the virtio-net header).</param>
/// <param name="RxDrops">Frames for the guest that were dropped (no buffer, filtered, bad frame, …).</param>
/// <param name="TxFrames">Frames the guest sent, passed to the backend.</param>
/// <param name="TxBytes">Their bytes (without the virtio-net header).</param>
/// <param name="TxDrops">Frames the guest sent that were dropped (bad header, backend dropped, …).</param>
/// <param name="Up">Whether the device runs (a front-end set it up and enabled its rings).</param>
/// <param name="ActivePairs">The queue pairs in use.</param>
public readonly record struct DaemonDeviceCounters(
    long RxFrames,
    long RxBytes,
    long RxDrops,
    long TxFrames,
    long TxBytes,
    long TxDrops,
    bool Up,
    int ActivePairs);
