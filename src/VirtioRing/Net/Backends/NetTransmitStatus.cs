namespace VirtioRing.Net.Backends;

/// <summary>What a backend did with a transmitted frame.</summary>
public enum NetTransmitStatus
{
    /// <summary>The frame was taken (written, copied, forwarded); its buffers can go back to the guest.</summary>
    Sent = 0,

    /// <summary>Not now: the engine holds the frame and offers it again after the backend wakes the queue (flow control).</summary>
    Busy,

    /// <summary>Refused for good (no route, filtered, the destination has no buffers in drop mode); the engine counts it.</summary>
    Dropped,
}
