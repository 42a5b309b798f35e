namespace VirtioRing.VhostUser.Protocol;

/// <summary>A log description (16 bytes): the size of the dirty log and its offset in the passed fd.</summary>
/// <param name="Size">The log size in bytes.</param>
/// <param name="Offset">Where the log starts in its file.</param>
public readonly record struct VhostUserLog(ulong Size, ulong Offset)
{
    /// <summary>The payload length in bytes.</summary>
    public const int Length = 16;
}
