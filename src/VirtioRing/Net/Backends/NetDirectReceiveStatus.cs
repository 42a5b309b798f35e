namespace VirtioRing.Net.Backends;

/// <summary>Why <see cref="INetDirectReceiveHost.ReceiveDirect"/> stopped.</summary>
public enum NetDirectReceiveStatus
{
    /// <summary>The reader had nothing more (it returned 0).</summary>
    Drained,

    /// <summary>The budget was used: more may be waiting.</summary>
    BudgetUsed,

    /// <summary>The guest posted too few buffers: ask <see cref="INetBackendHost.WaitForReceiveBuffers"/> for the result's queue, then call again when woken.</summary>
    NoBuffers,

    /// <summary>The receive queue is not running (stopped, disabled, broken, or the device is stopped).</summary>
    QueueDown,

    /// <summary>The reader failed (it returned -1).</summary>
    ReaderFailed,
}
