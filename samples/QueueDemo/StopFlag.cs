using System.Threading;

namespace QueueDemo;

/// <summary>Set once by the first side that fails; both sides stop, the first reason is kept.</summary>
internal sealed class StopFlag
{
    private string? _reason;

    /// <summary>Gets whether a side failed.</summary>
    public bool IsSet => Volatile.Read(ref _reason) is not null;

    /// <summary>Gets why the run stopped, or <see langword="null"/>.</summary>
    public string? Reason => Volatile.Read(ref _reason);

    /// <summary>Stops the run; the first reason wins.</summary>
    public void Set(string reason) => Interlocked.CompareExchange(ref _reason, reason, null);
}
