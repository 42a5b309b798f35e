using BenchmarkDotNet.Attributes;
using VirtioRing.Net.Multiqueue;

namespace VirtioRing.Benchmarks.Net.Multiqueue;

/// <summary>
/// Per-frame cost of automatic receive steering (record a TX frame, steer its reply) and of each driver-side
/// transmit queue selector on TCP/IPv4 frames of 64 flows, 8 active pairs. Per-frame figures; each returns
/// the sum of the chosen queues.
/// </summary>
[MemoryDiagnoser]
public class SteeringBenchmarks
{
    private const int Ops = BenchFrames.Count;
    private const ushort Pairs = 8;
    private AutomaticReceiveSteering _auto = null!;
    private FixedTxQueueSelector _fixed = null!;
    private RoundRobinTxQueueSelector _roundRobin = null!;
    private FlowHashTxQueueSelector _flowHash = null!;
    private FlowHashTxQueueSelector _replyAligned = null!;
    private DestinationMacTxQueueSelector _byMac = null!;
    private byte[][] _out = null!;
    private byte[][] _replies = null!;

    /// <summary>Builds the table, selectors and frames.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _out = BenchFrames.TcpV4Frames();
        _replies = BenchFrames.TcpV4Frames(reply: true);
        _auto = new AutomaticReceiveSteering(Pairs);
        _auto.SetActivePairs(Pairs);
        _fixed = new FixedTxQueueSelector(2);
        _roundRobin = new RoundRobinTxQueueSelector();
        _flowHash = new FlowHashTxQueueSelector();
        var table = new ushort[128];
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = (ushort)(i % Pairs);
        }

        _replyAligned = new FlowHashTxQueueSelector(new RssConfiguration(NetHashTypes.IPv4 | NetHashTypes.TcpV4, BenchFrames.Key, table, 0));
        _byMac = new DestinationMacTxQueueSelector(64);
        for (byte peer = 0; peer < 4; peer++)
        {
            _byMac.TryAssign([0x52, 0, 0, 0, 0, peer], (ushort)(peer + 1));
        }
    }

    /// <summary>Automatic steering: learn the TX queue of a frame's flow.</summary>
    /// <returns>Frames recorded.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int AutoRecordTransmit()
    {
        int i = 0;
        foreach (byte[] f in _out)
        {
            _auto.RecordTransmit(f, (ushort)(i++ & 7));
        }

        return i;
    }

    /// <summary>Automatic steering: the receive queue of a reply (flow known).</summary>
    /// <returns>Sum of the queues.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int AutoSelectReceiveQueue()
    {
        int x = 0;
        foreach (byte[] f in _replies)
        {
            x += _auto.SelectReceiveQueue(f);
        }

        return x;
    }

    /// <summary>Fixed selector.</summary>
    /// <returns>Sum of the queues.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int SelectFixed() => Run(_fixed);

    /// <summary>Round-robin selector.</summary>
    /// <returns>Sum of the queues.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int SelectRoundRobin() => Run(_roundRobin);

    /// <summary>Flow-hash selector, symmetric hash.</summary>
    /// <returns>Sum of the queues.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int SelectFlowHash() => Run(_flowHash);

    /// <summary>Flow-hash selector, reply-aligned Toeplitz + indirection table.</summary>
    /// <returns>Sum of the queues.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int SelectFlowHashReplyAligned() => Run(_replyAligned);

    /// <summary>Destination-MAC selector (4 peers assigned).</summary>
    /// <returns>Sum of the queues.</returns>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int SelectDestinationMac() => Run(_byMac);

    // Reference-type generics share code: this is an interface call per frame, as an engine holding ITxQueueSelector makes.
    private int Run<T>(T selector)
        where T : ITxQueueSelector
    {
        int x = 0;
        foreach (byte[] f in _out)
        {
            x += selector.SelectTransmitQueue(f, Pairs);
        }

        return x;
    }
}
