using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using VirtioRing.Linux;
using VirtioRing.Net.Engine;

namespace VhostUserNet;

/// <summary>
/// The daemon's polling threads (<c>--poll-threads N</c>): the devices run in <see cref="NetWorkerMode.Manual"/> and
/// each of N threads calls <see cref="NetQueuePair.Poll"/> round-robin over its share of all the devices' queue pairs.
/// </summary>
/// <remarks>
/// <para><b>Partition.</b> Fixed for the daemon's lifetime: pair <c>p</c> of device <c>d</c> belongs to thread
/// <c>(d × Queues + p) mod N</c>, so a pair is only ever polled by one thread (<see cref="NetQueuePair.Poll"/> is for one
/// thread at a time). Pairs come and go as front-ends connect, disconnect and enable queue pairs; a thread skips the
/// inactive ones (<see cref="NetQueuePair.IsActive"/>) and the engine's own guard makes a round on a pair that was
/// deactivated meanwhile do nothing: once a session end has stopped a device (its rings may then be unmapped) no round,
/// arming or disarming touches its rings again. Nothing is allocated per round.</para>
/// <para><b>Sleeping.</b> A thread that finds nothing to do in any of its pairs spins on empty rounds for
/// <see cref="IdleSpin"/>, then goes to sleep without losing a wake-up: (1) it consumes what is pending on each of
/// its pairs' <see cref="EpollWorkerSignal"/>s (kick eventfds, handed to the device as on a pair worker, and the
/// pairs' own notifications: backend wake-ups, activations); (2) it asks each pair's driver to kick again and rechecks
/// its transmit ring (<see cref="NetQueuePair.PrepareToWait"/>, the engine's enable-and-recheck); (3) it polls every
/// pair once more, for what was signalled before (1) consumed it; only if that finds nothing too it blocks in
/// <c>epoll_wait</c> on one epoll instance that nests the pairs' signals (each is an epoll fd), so any later kick or
/// notification wakes it. After waking it turns the kick requests off again (<see cref="NetQueuePair.EndWait"/>).</para>
/// <para><b>While busy.</b> Every <see cref="BusyDrainInterval"/> a thread that keeps finding work also consumes its pairs'
/// signals, so a receive-ring kick that releases a lossless sender held on another thread is not left waiting.</para>
/// </remarks>
[DebuggerDisplay("{_threads.Length} poll thread(s)")]
internal sealed class DaemonPoller : IDisposable
{
    /// <summary>How long a thread keeps polling empty rounds before it arms the kicks and sleeps.</summary>
    internal static readonly TimeSpan IdleSpin = TimeSpan.FromMicroseconds(200);

    /// <summary>
    /// How often a busy thread takes in its pairs' signals anyway. A kick on a receive ring (its driver posted buffers)
    /// is handed to the device only when the signal is consumed, and that wakes senders held for those buffers under
    /// lossless flow control, which may be on another thread, asleep: a thread kept busy by other pairs must not sit
    /// on such a kick until it next has nothing to do.
    /// </summary>
    internal static readonly TimeSpan BusyDrainInterval = TimeSpan.FromMicroseconds(50);

    /// <summary>The longest sleep: a safety net only (every source of work wakes a sleeping thread).</summary>
    private const int SleepMilliseconds = 2000;

    private readonly PollThread[] _threads;

    public DaemonPoller(IReadOnlyList<DaemonDevice> devices, int queues, int threads)
    {
        var pairs = new List<NetQueuePair>[threads];
        for (int t = 0; t < threads; t++)
        {
            pairs[t] = [];
        }

        for (int d = 0; d < devices.Count; d++)
        {
            NetDevice device = devices[d].Device;
            for (int p = 0; p < device.MaxQueuePairs; p++)
            {
                pairs[((d * queues) + p) % threads].Add(device.GetPair(p));
            }
        }

        _threads = new PollThread[threads];
        try
        {
            for (int t = 0; t < threads; t++)
            {
                _threads[t] = new PollThread(t, pairs[t].ToArray(), devices.Count > 0 ? devices[0].Device.BatchSize : 32);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Gets how many times the threads went to sleep (a test and diagnostics aid).</summary>
    public long Sleeps
    {
        get
        {
            long n = 0;
            foreach (PollThread? t in _threads)
            {
                n += t?.Sleeps ?? 0;
            }

            return n;
        }
    }

    public void Start()
    {
        foreach (PollThread t in _threads)
        {
            t.Start();
        }
    }

    /// <summary>Stops and joins the threads and closes their epoll instances (before the devices and their signals are disposed).</summary>
    public void Dispose()
    {
        foreach (PollThread? t in _threads)
        {
            t?.Dispose();
        }
    }

    [DebuggerDisplay("poll thread {_index}: {_pairs.Length} pair(s)")]
    private sealed class PollThread : IDisposable
    {
        private readonly int _index;
        private readonly NetQueuePair[] _pairs;
        private readonly EpollWorkerSignal[] _pairSignals;
        private readonly EpollWorkerSignal _sleep;
        private readonly int _budget;
        private readonly long _idleSpinTicks;
        private readonly long _busyDrainTicks;
        private Thread? _thread;
        private volatile bool _stopping;
        private long _sleeps;

        public PollThread(int index, NetQueuePair[] pairs, int budget)
        {
            _index = index;
            _pairs = pairs;
            _pairSignals = new EpollWorkerSignal[pairs.Length];
            _budget = budget;
            _idleSpinTicks = Math.Max(1, (long)(IdleSpin.TotalSeconds * Stopwatch.Frequency));
            _busyDrainTicks = Math.Max(1, (long)(BusyDrainInterval.TotalSeconds * Stopwatch.Frequency));
            _sleep = new EpollWorkerSignal();
            try
            {
                for (int i = 0; i < pairs.Length; i++)
                {
                    // The daemon builds its devices with an EpollWorkerSignalFactory: the backend adds each ring's kick
                    // eventfd to its pair's signal, and the pair's notifications write the signal's own eventfd.
                    EpollWorkerSignal signal = pairs[i].Signal as EpollWorkerSignal
                        ?? throw new InvalidOperationException("--poll-threads needs the pairs' epoll signals.");
                    _pairSignals[i] = signal;
                    _sleep.Add(signal.Handle);   // readable whenever a Wait of the pair's signal would return at once
                }
            }
            catch
            {
                _sleep.Dispose();
                throw;
            }
        }

        public long Sleeps => Interlocked.Read(ref _sleeps);

        public void Start()
        {
            _thread = new Thread(Run)
            {
                IsBackground = true,
                Name = "vhost-user poll " + _index.ToString(CultureInfo.InvariantCulture),
            };
            _thread.Start();
        }

        public void Dispose()
        {
            _stopping = true;
            _sleep.Notify();
            _thread?.Join();
            _thread = null;
            _sleep.Dispose();
        }

        private void Run()
        {
            long idleSince = 0;
            long drained = Stopwatch.GetTimestamp();
            while (!_stopping)
            {
                if (PollAll() > 0)
                {
                    idleSince = 0;
                    long at = Stopwatch.GetTimestamp();
                    if (at - drained >= _busyDrainTicks)
                    {
                        DrainSignals();
                        drained = at;
                    }

                    continue;
                }

                long now = Stopwatch.GetTimestamp();
                if (idleSince == 0)
                {
                    idleSince = now;
                }

                if (now - idleSince < _idleSpinTicks)
                {
                    Thread.SpinWait(20);
                    continue;
                }

                Sleep();
                idleSince = 0;
            }
        }

        /// <summary>Consumes what is pending on the pairs' signals: kicks go to the device (as on a pair worker) and may notify a pair again, hence a few passes.</summary>
        private void DrainSignals()
        {
            foreach (EpollWorkerSignal signal in _pairSignals)
            {
                for (int i = 0; i < 4 && signal.Wait(0); i++)
                {
                }
            }
        }

        private int PollAll()
        {
            int work = 0;
            foreach (NetQueuePair pair in _pairs)
            {
                if (pair.IsActive)
                {
                    work += pair.Poll(_budget);
                }
            }

            return work;
        }

        private void Sleep()
        {
            // (1) Consume what is pending; whatever arrives after this stays pending and wakes the wait below.
            DrainSignals();

            // (2) Enable-and-recheck on every pair's transmit ring; (3) one more round for what (1) consumed.
            bool arrived = false;
            foreach (NetQueuePair pair in _pairs)
            {
                arrived |= pair.PrepareToWait();
            }

            if (!arrived && PollAll() == 0 && !_stopping)
            {
                Interlocked.Increment(ref _sleeps);
                _sleep.Wait(SleepMilliseconds);
            }

            foreach (NetQueuePair pair in _pairs)
            {
                pair.EndWait();
            }
        }
    }
}
