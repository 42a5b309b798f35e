using System;
using BenchmarkDotNet.Attributes;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Switching;

namespace VirtioRing.Benchmarks.Net.Switching;

/// <summary>
/// The switch's cost per 64-byte frame on one thread: the forwarding decision (read the Ethernet addresses, learn the
/// source, look up the destination or take the per-MAC fast path) plus the call into a trivial receiving host that
/// only counts (so the figure is the switch's overhead, not a copy into guest buffers). 32 frames per batch, then one
/// FlushTransmit, as an engine's pair worker does. Each benchmark returns the frames the hosts counted.
/// </summary>
[MemoryDiagnoser]
public class SwitchForwardingBenchmarks
{
    private const int Batch = 32;

    private readonly byte[][] _unicast = new byte[Batch][];
    private readonly byte[][] _broadcast = new byte[Batch][];
    private readonly byte[][] _toPeer = new byte[Batch][];
    private readonly CountingHost[] _hosts = new CountingHost[4];
    private INetBackend _sender = null!;
    private INetBackend _boundSender = null!;

    [GlobalSetup]
    public void Setup()
    {
        var sw = new NetSwitch(new NetSwitchOptions { GuestPortQueues = 2 });
        var ports = new NetSwitchPort[4];
        for (int i = 0; i < 4; i++)
        {
            ports[i] = sw.AddGuestPort("g" + i, Mac(i), 2);
            _hosts[i] = new CountingHost();
            ((INetBackend)ports[i]).Attach(_hosts[i]);
        }

        sw.BindPeerQueues(ports[0], 1, ports[1], 1);
        for (int i = 0; i < Batch; i++)
        {
            _unicast[i] = Frame(Mac(1 + (i % 3)), Mac(0));
            _broadcast[i] = Frame(MacAddress.Broadcast, Mac(0));
            _toPeer[i] = Frame(Mac(1), Mac(0));
        }

        _sender = ports[0];
        _boundSender = ports[0];
    }

    /// <summary>Known unicast to three peers, ordinary path (MAC table lookup), queue 0.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public long Unicast64() => Run(_sender, 0, _unicast);

    /// <summary>Unicast on a queue bound to one peer (per-MAC fast path: one compare instead of the lookup).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public long UnicastFastPath64() => Run(_boundSender, 1, _toPeer);

    /// <summary>Broadcast flooded to the three other ports (three deliveries per frame).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public long Broadcast64() => Run(_sender, 0, _broadcast);

    private long Run(INetBackend sender, int queue, byte[][] frames)
    {
        for (int i = 0; i < frames.Length; i++)
        {
            sender.Transmit(queue, NetFrame.FromSpan(default, frames[i]));
        }

        sender.FlushTransmit(queue);
        return _hosts[1].Frames + _hosts[2].Frames + _hosts[3].Frames;
    }

    private static MacAddress Mac(int n) => new(0x0200_0000_0000UL | (uint)n);

    private static byte[] Frame(MacAddress destination, MacAddress source)
    {
        var f = new byte[64];
        destination.WriteTo(f);
        source.WriteTo(f.AsSpan(6));
        f[12] = 0x08;
        return f;
    }

    /// <summary>A receiving host that only counts.</summary>
    private sealed class CountingHost : INetBackendHost
    {
        public long Frames;
        public long Flushes;

        public NetOffloads ReceiveOffloads => NetOffloads.All;

        public NetDeliveryResult Deliver(int queueHint, in NetFrame frame)
        {
            Frames++;
            return new NetDeliveryResult(NetDeliveryStatus.Delivered, queueHint < 0 ? 0 : queueHint);
        }

        public void FlushDeliveries() => Flushes++;

        public bool WaitForReceiveBuffers(int queue, INotifier waiter) => true;

        public void Wake(int queue)
        {
        }

        public void ReportFault(int queue, System.Exception failure)
        {
        }
    }
}
