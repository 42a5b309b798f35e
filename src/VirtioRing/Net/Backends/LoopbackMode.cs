namespace VirtioRing.Net.Backends;

/// <summary>What a <see cref="LoopbackBackend"/> does with transmitted frames.</summary>
public enum LoopbackMode
{
    /// <summary>Every transmitted frame comes back as received on the same backend queue.</summary>
    Echo = 0,

    /// <summary>Transmitted frames are kept for <see cref="LoopbackBackend.TryTakeTransmitted(int, out VirtioNetHeader, out byte[])"/>; received frames come only from <see cref="LoopbackBackend.Inject"/>.</summary>
    Capture,
}
