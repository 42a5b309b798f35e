namespace VirtioRing.Queues;

/// <summary>The outcome of taking the next element from a ring (a chain on the device side, a used buffer on the driver side).</summary>
public enum PopStatus
{
    /// <summary>An element was taken.</summary>
    Popped = 0,

    /// <summary>Nothing is pending.</summary>
    Empty,

    /// <summary>The queue is broken; see its <c>Fault</c>. Nothing was taken, and nothing will be until a reset.</summary>
    Broken,
}
