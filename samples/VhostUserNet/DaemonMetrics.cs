using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace VhostUserNet;

/// <summary>
/// The daemon's <see cref="Meter"/>: observable instruments read from <see cref="DaemonDevice.GetCounters"/> at
/// collection time (nothing is counted twice, the serving path is untouched). Every measurement carries the tag
/// <c>device</c> (<c>vu0</c>, …); frames, bytes and drops also <c>direction</c> (<c>rx</c>: to the guest,
/// <c>tx</c>: from the guest).
/// </summary>
/// <remarks>
/// Instruments: <c>vhost_user_net.frames</c> and <c>vhost_user_net.bytes</c> and <c>vhost_user_net.drops</c>
/// (observable counters), <c>vhost_user_net.device.up</c> (observable gauge, 1 while a front-end runs the device)
/// and <c>vhost_user_net.device.active_pairs</c> (observable gauge). Watch them with
/// <c>dotnet-counters monitor -n VhostUserNet --counters VirtioRing.VhostUserNet</c>.
/// </remarks>
public sealed class DaemonMetrics : IDisposable
{
    private readonly IReadOnlyList<DaemonDevice> _devices;

    /// <summary>Creates the meter and its instruments over <paramref name="devices"/>.</summary>
    /// <param name="name">The meter name.</param>
    /// <param name="devices">The devices to report (read at each collection).</param>
    public DaemonMetrics(string name, IReadOnlyList<DaemonDevice> devices)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(devices);
        _devices = devices;
        Meter = new Meter(name);
        Meter.CreateObservableCounter("vhost_user_net.frames", () => Observe(static (c, rx) => rx ? c.RxFrames : c.TxFrames), "{frame}",
            "Frames per device and direction (rx: into the guest's buffers; tx: sent by the guest to the backend).");
        Meter.CreateObservableCounter("vhost_user_net.bytes", () => Observe(static (c, rx) => rx ? c.RxBytes : c.TxBytes), "By",
            "Frame bytes per device and direction (without the virtio-net header).");
        Meter.CreateObservableCounter("vhost_user_net.drops", () => Observe(static (c, rx) => rx ? c.RxDrops : c.TxDrops), "{frame}",
            "Frames dropped per device and direction (all reasons; the device meter VirtioRing.Net.Device has them per queue and reason).");
        Meter.CreateObservableGauge("vhost_user_net.device.up", ObserveUp, "{device}",
            "1 while a front-end runs the device (features set, rings enabled), else 0.");
        Meter.CreateObservableGauge("vhost_user_net.device.active_pairs", ObservePairs, "{pair}",
            "Queue pairs the guest uses.");
    }

    /// <summary>Gets the meter.</summary>
    public Meter Meter { get; }

    /// <summary>Unregisters the meter and its instruments.</summary>
    public void Dispose() => Meter.Dispose();

    private List<Measurement<long>> Observe(Func<DaemonDeviceCounters, bool, long> pick)
    {
        var list = new List<Measurement<long>>(2 * _devices.Count);
        foreach (DaemonDevice d in _devices)
        {
            DaemonDeviceCounters c = d.GetCounters();
            list.Add(new Measurement<long>(pick(c, true), Tag("device", d.Name), Tag("direction", "rx")));
            list.Add(new Measurement<long>(pick(c, false), Tag("device", d.Name), Tag("direction", "tx")));
        }

        return list;
    }

    private List<Measurement<int>> ObserveUp()
    {
        var list = new List<Measurement<int>>(_devices.Count);
        foreach (DaemonDevice d in _devices)
        {
            list.Add(new Measurement<int>(d.Device.IsRunning ? 1 : 0, Tag("device", d.Name)));
        }

        return list;
    }

    private List<Measurement<int>> ObservePairs()
    {
        var list = new List<Measurement<int>>(_devices.Count);
        foreach (DaemonDevice d in _devices)
        {
            list.Add(new Measurement<int>(d.Device.ActivePairs, Tag("device", d.Name)));
        }

        return list;
    }

    private static KeyValuePair<string, object?> Tag(string key, object? value) => new(key, value);
}
