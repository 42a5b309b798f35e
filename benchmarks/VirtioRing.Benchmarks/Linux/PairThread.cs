using System;
using System.Threading;

namespace VirtioRing.Benchmarks.Linux;

/// <summary>
/// A second thread, pinned to <see cref="BenchNamespace.OtherCpu"/>, that runs one piece of work per benchmark
/// invocation in step with the benchmark thread (the second queue of a two-queue run: one core per queue, as DPDK's
/// two forwarding lcores). It spins between invocations (no sleep: a wake-up would cost more than a 1 ms
/// invocation can hide) and allocates nothing per invocation.
/// </summary>
internal sealed class PairThread : IDisposable
{
    private readonly Func<int> _work;
    private readonly Thread _thread;
    private volatile int _requested;
    private volatile int _completed;
    private volatile bool _stop;
    private int _result;
    private Exception? _failure;

    public PairThread(Func<int> work, string name)
    {
        _work = work;
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Starts one run of the work.</summary>
    public void Begin() => _requested++;

    /// <summary>Waits (spinning) until the run started by <see cref="Begin"/> is done and returns its result.</summary>
    /// <returns>What the work returned.</returns>
    public int End()
    {
        int target = _requested;
        while (_completed != target)
        {
            Thread.SpinWait(16);
        }

        if (_failure is not null)
        {
            throw new InvalidOperationException("the second queue's thread failed", _failure);
        }

        return _result;
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }

    private void Loop()
    {
        BenchNamespace.PinCurrentThread(BenchNamespace.OtherCpu);
        int seen = 0;
        while (!_stop)
        {
            if (_requested == seen)
            {
                Thread.SpinWait(16);
                continue;
            }

            seen = _requested;
            try
            {
                _result = _work();
            }
            catch (Exception e)
            {
                _failure = e;
            }

            _completed = seen;
        }
    }
}
