using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading;
using VhostUserNet;

namespace VirtioRing.VhostUser.Tests.Interop;

/// <summary>
/// Watches a daemon's devices from a background thread while guests run: every change of a device's active queue
/// pair count (what the guest's <c>ethtool -L</c> becomes on the vhost-user side: QEMU enables and disables the
/// pairs' rings) is recorded with each pair's packet count (receive + transmit) at that moment.
/// </summary>
public sealed class PairRecorder : IDisposable
{
    private const int IntervalMilliseconds = 20;

    private readonly VhostUserDaemon _daemon;
    private readonly List<Change>[] _changes;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Thread _thread;
    private volatile bool _stop;

    public PairRecorder(VhostUserDaemon daemon)
    {
        _daemon = daemon;
        _changes = new List<Change>[daemon.Devices.Count];
        for (int i = 0; i < _changes.Length; i++)
        {
            _changes[i] = [];
        }

        _thread = new Thread(Run) { IsBackground = true, Name = "pair recorder" };
        _thread.Start();
    }

    /// <summary>Gets the active pair counts a device went through while running, in order (each value once per change).</summary>
    public IReadOnlyList<int> History(int device)
    {
        lock (_changes)
        {
            var pairs = new List<int>();
            foreach (Change c in _changes[device])
            {
                pairs.Add(c.Pairs);
            }

            return pairs;
        }
    }

    /// <summary>Gets the packets on each pair of a device when it first ran with <paramref name="pairs"/> active pairs, or null.</summary>
    public long[]? PacketsWhenFirst(int device, int pairs)
    {
        lock (_changes)
        {
            foreach (Change c in _changes[device])
            {
                if (c.Pairs == pairs)
                {
                    return c.Packets;
                }
            }

            return null;
        }
    }

    /// <summary>Formats every device's changes, one line each: time, pairs, packets per pair.</summary>
    public string Format()
    {
        var text = new StringBuilder();
        lock (_changes)
        {
            for (int d = 0; d < _changes.Length; d++)
            {
                text.Append(_daemon.Devices[d].Name).Append(" active pairs:");
                foreach (Change c in _changes[d])
                {
                    text.Append(CultureInfo.InvariantCulture, $" [{c.At.TotalSeconds:F1} s: {c.Pairs} pair(s), packets per pair {string.Join('/', c.Packets)}]");
                }

                text.AppendLine();
            }
        }

        return text.ToString();
    }

    /// <summary>Gets the packets (receive + transmit) on each pair of a device now.</summary>
    public static long[] Packets(DaemonDevice d)
    {
        long[] packets = new long[d.Device.MaxQueuePairs];
        for (int p = 0; p < packets.Length; p++)
        {
            packets[p] = d.Device.GetCounters(2 * p).Packets + d.Device.GetCounters((2 * p) + 1).Packets;
        }

        return packets;
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }

    private void Run()
    {
        int[] last = new int[_changes.Length];
        while (!_stop)
        {
            for (int d = 0; d < last.Length; d++)
            {
                DaemonDevice device = _daemon.Devices[d];
                int pairs = device.Device.IsRunning ? device.Device.ActivePairs : 0;
                if (pairs != 0 && pairs != last[d])
                {
                    lock (_changes)
                    {
                        _changes[d].Add(new Change(_clock.Elapsed, pairs, Packets(device)));
                    }
                }

                if (pairs != 0)
                {
                    last[d] = pairs;
                }
            }

            Thread.Sleep(IntervalMilliseconds);
        }
    }

    private readonly record struct Change(TimeSpan At, int Pairs, long[] Packets);
}
