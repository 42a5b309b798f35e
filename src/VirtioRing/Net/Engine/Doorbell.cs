using System.Diagnostics;
using System.Threading;

namespace VirtioRing.Net.Engine;

/// <summary>
/// An in-process kick or call: <see cref="Notify"/> sets a latch; <see cref="Wait"/> spins briefly,
/// then blocks, until the latch is set, and clears it. Also the default <see cref="WorkerSignal"/>
/// of a queue pair's worker, and usable as a device-to-driver call notifier.
/// </summary>
[DebuggerDisplay("Doorbell (signalled = {IsSignalled}, count = {NotifyCount})")]
public sealed class Doorbell : WorkerSignal, System.IDisposable
{
    private readonly ManualResetEventSlim _event;
    private long _count;

    /// <summary>Creates a doorbell.</summary>
    /// <param name="spinCount">How many spin iterations <see cref="Wait"/> does before blocking.</param>
    public Doorbell(int spinCount = 200)
    {
        _event = new ManualResetEventSlim(false, spinCount);
    }

    /// <summary>Gets whether a signal is pending.</summary>
    public bool IsSignalled => _event.IsSet;

    /// <summary>Gets how many times <see cref="Notify"/> was called (a test and diagnostics aid).</summary>
    public long NotifyCount => Interlocked.Read(ref _count);

    /// <inheritdoc/>
    public override void Notify()
    {
        Interlocked.Increment(ref _count);
        _event.Set();
    }

    /// <inheritdoc/>
    public override bool Wait(int millisecondsTimeout)
    {
        if (!_event.Wait(millisecondsTimeout))
        {
            return false;
        }

        // Reset after the wait: a Notify between the two is folded into this wake-up, which is safe
        // because the worker re-examines every source of work before it waits again.
        _event.Reset();
        return true;
    }

    /// <summary>Frees the wait handle, if one was created.</summary>
    public void Dispose() => _event.Dispose();
}
