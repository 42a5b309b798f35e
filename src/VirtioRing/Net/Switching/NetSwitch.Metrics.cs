using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace VirtioRing.Net.Switching;

/// <content>Per-port counters published through <see cref="System.Diagnostics.Metrics"/> (opt-in: <see cref="NetSwitchOptions.MeterName"/>).</content>
public sealed partial class NetSwitch
{
    /// <summary>The meter name samples and tools use by convention.</summary>
    public const string DefaultMeterName = "VirtioRing.Net.Switch";

    private Meter? _meter;

    /// <summary>Gets the meter the per-port counters are published through, or <see langword="null"/> when none was asked for.</summary>
    public Meter? Meter => _meter;

    /// <summary>Unregisters the meter, if there is one. The switch itself keeps working.</summary>
    public void Dispose()
    {
        _meter?.Dispose();
        _meter = null;
    }

    private void InitializeMetrics(string name)
    {
        _meter = new Meter(name);
        _meter.CreateObservableCounter("virtio_net.switch.frames", () => ObservePorts(static c => c.ReceivedFrames, static c => c.ForwardedFrames), "{frame}",
            "Frames per port: direction=in (sent by the port into the switch) and out (delivered to the port).");
        _meter.CreateObservableCounter("virtio_net.switch.bytes", () => ObservePorts(static c => c.ReceivedBytes, static c => c.ForwardedBytes), "By",
            "Frame bytes per port, by direction.");
        _meter.CreateObservableCounter("virtio_net.switch.flooded", () => ObservePorts(static c => c.FloodedFrames, null), "{frame}",
            "Frames a port sent that were flooded (broadcast, multicast, unknown unicast).");
        _meter.CreateObservableCounter("virtio_net.switch.held", () => ObservePorts(static c => c.HeldFrames, null), "{event}",
            "Times a port's frame was held for a receiver without buffers (lossless flow control).");
        _meter.CreateObservableCounter("virtio_net.switch.drops", ObserveDrops, "{frame}", "Frames dropped per port, by reason.");
    }

    private List<Measurement<long>> ObservePorts(Func<NetSwitchPortCounters, long> inbound, Func<NetSwitchPortCounters, long>? outbound, string? reason = null)
    {
        var list = new List<Measurement<long>>();
        foreach (NetSwitchPort? port in _ports)
        {
            if (port is null || port.IsRemoved)
            {
                continue;
            }

            NetSwitchPortCounters c = GetCounters(port);
            var name = new KeyValuePair<string, object?>("port", port.Name);
            if (reason is not null)
            {
                list.Add(new Measurement<long>(inbound(c), name, new KeyValuePair<string, object?>("reason", reason)));
                continue;
            }

            list.Add(new Measurement<long>(inbound(c), name, new KeyValuePair<string, object?>("direction", "in")));
            if (outbound is not null)
            {
                list.Add(new Measurement<long>(outbound(c), name, new KeyValuePair<string, object?>("direction", "out")));
            }
        }

        return list;
    }

    private IEnumerable<Measurement<long>> ObserveDrops()
    {
        var all = new List<Measurement<long>>();
        all.AddRange(ObservePorts(static c => c.DroppedFiltered, null, "filtered"));
        all.AddRange(ObservePorts(static c => c.DroppedNoBuffers, null, "no_buffers"));
        all.AddRange(ObservePorts(static c => c.DroppedNoRoute, null, "no_route"));
        all.AddRange(ObservePorts(static c => c.DroppedQueueDown, null, "queue_down"));
        all.AddRange(ObservePorts(static c => c.DroppedBadFrame, null, "bad_frame"));
        return all;
    }
}
