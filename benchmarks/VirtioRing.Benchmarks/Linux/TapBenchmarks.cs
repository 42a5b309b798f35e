using System.Globalization;
using System.Text;
using VirtioRing.Linux.Tap;
using VirtioRing.Net.Backends;

namespace VirtioRing.Benchmarks.Linux;

/// <summary>Guest → <see cref="TapBackend"/> → kernel sink (peer: DPDK's <c>net_tap</c> in <c>txonly</c>); see <see cref="TransmitBenchmarks"/>.</summary>
public class TapTransmitBenchmarks : TransmitBenchmarks
{
    /// <summary>The TAP's name inside the benchmark namespace.</summary>
    public const string TapName = "vrbtx0";

    /// <inheritdoc/>
    protected override string Label => "tap tx";

    /// <inheritdoc/>
    protected override string SinkInterface => TapName;

    /// <inheritdoc/>
    protected override INetBackend CreateBackend(int queues, int frameLength) => TapSetup.Create(TapName, queues);

    /// <inheritdoc/>
    protected override void DestroyBackend(INetBackend backend) => ((TapBackend)backend).Dispose();

    /// <inheritdoc/>
    protected override string Describe(INetBackend backend) => TapSetup.Describe((TapBackend)backend);
}

/// <summary>Kernel → <see cref="TapBackend"/> → in-process guest (peer: DPDK's <c>net_tap</c> in <c>rxonly</c>); see <see cref="ReceiveBenchmarks"/>.</summary>
public class TapReceiveBenchmarks : ReceiveBenchmarks
{
    /// <summary>The TAP's name inside the benchmark namespace.</summary>
    public const string TapName = "vrbrx0";

    /// <inheritdoc/>
    protected override string Label => "tap rx";

    /// <inheritdoc/>
    protected override string SourceInterface => TapName;

    /// <inheritdoc/>
    /// <remarks>A TAP's "tx" is what the kernel hands its reader; "tx_dropped" what the reader's queue had no room for.</remarks>
    protected override string CountedInterface => TapName;

    /// <inheritdoc/>
    protected override INetBackend CreateBackend(int queues, int frameLength) => TapSetup.Create(TapName, queues);

    /// <inheritdoc/>
    protected override void DestroyBackend(INetBackend backend) => ((TapBackend)backend).Dispose();

    /// <inheritdoc/>
    protected override string Describe(INetBackend backend) => TapSetup.Describe((TapBackend)backend);
}

/// <summary>The TAP both directions use: created by the backend on the benchmark thread (inside the namespace), up, 10.199.0.1/24.</summary>
internal static class TapSetup
{
    public static TapBackend Create(string name, int queues)
    {
        TapBackend backend = TapBackend.Create(new TapOptions { Name = name, Queues = queues });
        BenchNamespace.Ip("link", "set", "dev", name, "up");
        BenchNamespace.Ip("addr", "add", "10.199.0.1/24", "dev", name);
        return backend;
    }

    public static string Describe(TapBackend backend)
    {
        var text = new StringBuilder("TAP");
        for (int q = 0; q < backend.QueueCount; q++)
        {
            TapQueueCounters c = backend.GetCounters(q);
            text.Append(CultureInfo.InvariantCulture, $" q{q}: tx {c.TransmittedFrames} busy {c.TransmitBusy} drops {c.TransmitDrops}, rx {c.ReceivedFrames} truncated {c.ReceiveTruncated}, wake-ups {c.Wakeups};");
        }

        return text.ToString();
    }
}
