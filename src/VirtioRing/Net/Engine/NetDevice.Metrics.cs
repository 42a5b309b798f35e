using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace VirtioRing.Net.Engine;

public sealed partial class NetDevice
{
    private Meter? _meter;

    /// <summary>Gets the meter the per-queue counters are published through (observable counters read the plain fields at collection time).</summary>
    public Meter Meter => _meter!;

    private void InitializeMetrics()
    {
        _meter = new Meter(_options.MeterName);
        _meter.CreateObservableCounter("virtio_net.queue.packets", () => Observe(static c => c.Packets, null), "{packet}", "Frames moved per virtqueue (tx: to the backend; rx: into guest buffers).");
        _meter.CreateObservableCounter("virtio_net.queue.bytes", () => Observe(static c => c.Bytes, null), "By", "Frame bytes moved per virtqueue (without the virtio-net header).");
        _meter.CreateObservableCounter("virtio_net.queue.drops", ObserveDrops, "{packet}", "Frames dropped per virtqueue, by reason.");
        _meter.CreateObservableCounter("virtio_net.queue.refused", () => Observe(static c => c.NoBuffer, "no_buffer"), "{packet}", "Deliveries refused per receive virtqueue for lack of guest buffers (the sender keeps the frame or drops and counts it).");
        _meter.CreateObservableCounter("virtio_net.queue.busy", () => Observe(static c => c.Busy, null), "{event}", "Transmit chains held because the backend was busy.");
    }

    private void DisposeMetrics() => _meter?.Dispose();

    private List<Measurement<long>> Observe(System.Func<NetQueueCounters, long> pick, string? reason)
    {
        int n = 2 * MaxQueuePairs + 1;
        var list = new List<Measurement<long>>(n);
        for (int i = 0; i < n; i++)
        {
            NetQueueCounters c = Cells(i).Snapshot();
            list.Add(reason is null
                ? new Measurement<long>(pick(c), Tag("device", Name), Tag("queue", i), Tag("direction", Direction(i)))
                : new Measurement<long>(pick(c), Tag("device", Name), Tag("queue", i), Tag("direction", Direction(i)), Tag("reason", reason)));
        }

        return list;
    }

    private IEnumerable<Measurement<long>> ObserveDrops()
    {
        var all = new List<Measurement<long>>();
        all.AddRange(Observe(static c => c.Filtered, "filtered"));
        all.AddRange(Observe(static c => c.BadHeader, "bad_header"));
        all.AddRange(Observe(static c => c.BrokenQueue, "broken_queue"));
        all.AddRange(Observe(static c => c.BackendDropped, "backend_dropped"));
        all.AddRange(Observe(static c => c.BadFrame, "bad_frame"));
        return all;
    }

    private string Direction(int index) => index == ControlQueueIndex ? "ctrl" : (index & 1) == 0 ? "rx" : "tx";

    private static KeyValuePair<string, object?> Tag(string key, object? value) => new(key, value);
}
