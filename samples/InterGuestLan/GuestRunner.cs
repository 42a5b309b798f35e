using System.Collections.Generic;
using System.Threading;
using VirtioRing.Net.InProcess;

namespace InterGuestLan;

/// <summary>
/// One guest's application: its flows to every other guest, spread over its queue pairs by the
/// driver's transmit selector (<c>NetDriver.SelectPair</c>, the flow hash), and one
/// <see cref="PairWorker"/> thread per pair.
/// </summary>
internal sealed class GuestRunner
{
    private readonly PairWorker[] _workers;

    /// <summary>Creates the guest's workers (not started).</summary>
    /// <param name="id">The guest id.</param>
    /// <param name="guest">The guest.</param>
    /// <param name="options">The run's options.</param>
    /// <param name="control">The run's phases.</param>
    public GuestRunner(int id, InProcessGuest guest, LanOptions options, RunControl control)
    {
        Id = id;
        Guest = guest;

        // Ask the driver's selector where each flow goes, with a frame of the flow as it will be sent.
        int frameLength = options.Tso ? Wire.TsoFrameSize : options.FrameSize;
        var probe = new byte[frameLength];
        var byPair = new List<(int Destination, int Flow)>[options.Pairs];
        for (int p = 0; p < options.Pairs; p++)
        {
            byPair[p] = [];
        }

        int total = 0;
        for (int f = 0; f < options.FlowsPerPeer; f++)
        {
            for (int d = 0; d < options.Guests; d++)
            {
                if (d != id)
                {
                    Wire.WriteHeaders(probe, id, d, f, frameLength, options.Tso);
                    byPair[guest.Driver.SelectPair(probe)].Add((d, f));
                    total++;
                }
            }
        }

        _workers = new PairWorker[options.Pairs];
        long assigned = 0;
        for (int p = 0; p < options.Pairs; p++)
        {
            // --frames is per guest: each pair gets the share of its flows (the last one the rest).
            long quota = options.MaxFrames == 0 ? 0
                : p == options.Pairs - 1 ? options.MaxFrames - assigned
                : options.MaxFrames * byPair[p].Count / total;
            if (options.MaxFrames != 0 && quota == 0 && byPair[p].Count != 0)
            {
                quota = -1;   // a share of nothing: send nothing (0 would mean "no limit")
            }

            assigned += quota > 0 ? quota : 0;
            _workers[p] = new PairWorker(id, p, guest, byPair[p], quota, options, control);
        }
    }

    /// <summary>Gets the guest id.</summary>
    public int Id { get; }

    /// <summary>Gets the guest.</summary>
    public InProcessGuest Guest { get; }

    /// <summary>Gets the per-pair workers.</summary>
    public IReadOnlyList<PairWorker> Workers => _workers;

    /// <summary>Gets whether every worker stopped sending.</summary>
    public bool FinishedSending
    {
        get
        {
            foreach (PairWorker w in _workers)
            {
                if (!w.FinishedSending)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>Gets whether a worker's thread ended (it only does when the run is done, or on a failure).</summary>
    public bool AnyExited
    {
        get
        {
            foreach (PairWorker w in _workers)
            {
                if (w.Exited)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Sums a counter over the workers (the display thread reads while they write).</summary>
    /// <param name="counter">Which counter.</param>
    /// <returns>The sum.</returns>
    public long Sum(Counter counter)
    {
        long sum = 0;
        foreach (PairWorker w in _workers)
        {
            sum += counter switch
            {
                Counter.SentFrames => Volatile.Read(ref w.SentFrames),
                Counter.SentBytes => Volatile.Read(ref w.SentBytes),
                Counter.ReceivedFrames => Volatile.Read(ref w.ReceivedFrames),
                Counter.ReceivedBytes => Volatile.Read(ref w.ReceivedBytes),
                Counter.Verified => Volatile.Read(ref w.Verified),
                Counter.Corrupt => Volatile.Read(ref w.Corrupt),
                Counter.OutOfOrder => Volatile.Read(ref w.OutOfOrder),
                Counter.Gaps => Volatile.Read(ref w.Gaps),
                _ => Volatile.Read(ref w.NotForUs),
            };
        }

        return sum;
    }

    /// <summary>Gets the messages this guest sent to guest <paramref name="destination"/>.</summary>
    /// <param name="destination">The destination guest.</param>
    /// <returns>The count.</returns>
    public long SentTo(int destination)
    {
        long sum = 0;
        foreach (PairWorker w in _workers)
        {
            sum += Volatile.Read(ref w.SentTo[destination]);
        }

        return sum;
    }

    /// <summary>Gets the messages this guest received from guest <paramref name="sender"/>.</summary>
    /// <param name="sender">The sending guest.</param>
    /// <returns>The count.</returns>
    public long ReceivedFrom(int sender)
    {
        long sum = 0;
        foreach (PairWorker w in _workers)
        {
            sum += Volatile.Read(ref w.ReceivedFrom[sender]);
        }

        return sum;
    }

    /// <summary>Gets the first failure any worker recorded, or <see langword="null"/>.</summary>
    public string? FirstError
    {
        get
        {
            foreach (PairWorker w in _workers)
            {
                if (w.FirstError is { } e)
                {
                    return e;
                }
            }

            return null;
        }
    }

    /// <summary>Starts every worker.</summary>
    public void Start()
    {
        foreach (PairWorker w in _workers)
        {
            w.Start();
        }
    }

    /// <summary>Waits for every worker to end.</summary>
    /// <param name="millisecondsTimeout">The longest wait per worker.</param>
    /// <returns>Whether all ended.</returns>
    public bool Join(int millisecondsTimeout)
    {
        bool all = true;
        foreach (PairWorker w in _workers)
        {
            all &= w.Join(millisecondsTimeout);
        }

        return all;
    }
}
