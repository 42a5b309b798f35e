using System;
using System.Collections.Generic;
using System.Diagnostics;
using VirtioRing.Net.Engine;

namespace VirtioRing.Linux;

/// <summary>
/// Makes one <see cref="EpollWorkerSignal"/> per queue pair for <see cref="NetDeviceOptions.SignalFactory"/>
/// (<c>SignalFactory = factory.Create</c>), keeps them so the caller can add each pair's descriptors
/// (<see cref="this[int]"/>), and disposes them. The device does not dispose its signals: dispose the
/// factory after the device.
/// </summary>
[DebuggerDisplay("{Count} epoll signal(s)")]
public sealed class EpollWorkerSignalFactory : IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<int, EpollWorkerSignal> _signals = [];
    private bool _disposed;

    /// <summary>Gets how many signals were created (and not yet disposed).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _signals.Count;
            }
        }
    }

    /// <summary>Gets the signal created for a pair.</summary>
    /// <param name="pair">The queue pair index.</param>
    /// <returns>The signal.</returns>
    /// <exception cref="KeyNotFoundException">No signal was created for <paramref name="pair"/>.</exception>
    public EpollWorkerSignal this[int pair]
    {
        get
        {
            lock (_gate)
            {
                return _signals[pair];
            }
        }
    }

    /// <summary>Creates the signal of a queue pair (the <see cref="NetDeviceOptions.SignalFactory"/> callback).</summary>
    /// <param name="pair">The queue pair index.</param>
    /// <returns>A new <see cref="EpollWorkerSignal"/>.</returns>
    /// <exception cref="InvalidOperationException">A signal for <paramref name="pair"/> exists already.</exception>
    /// <exception cref="ObjectDisposedException">The factory was disposed.</exception>
    /// <exception cref="LinuxException">The epoll instance or its eventfd could not be created.</exception>
    public WorkerSignal Create(int pair)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_signals.ContainsKey(pair))
            {
                Interop.LinuxThrowHelper.ThrowInvalidOperation($"A signal for pair {pair} exists already.");
            }

            var signal = new EpollWorkerSignal();
            _signals.Add(pair, signal);
            return signal;
        }
    }

    /// <summary>Disposes every signal created (call after the device is disposed: its workers must not be waiting).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (EpollWorkerSignal s in _signals.Values)
            {
                s.Dispose();
            }

            _signals.Clear();
        }
    }
}
