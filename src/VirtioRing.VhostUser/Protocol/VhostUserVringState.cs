namespace VirtioRing.VhostUser.Protocol;

/// <summary>A vring state description (8 bytes): <c>index</c> (u32) and <c>num</c> (u32).</summary>
/// <param name="Index">The vring index.</param>
/// <param name="Num">The number (size, base, enable flag…).</param>
public readonly record struct VhostUserVringState(uint Index, uint Num)
{
    /// <summary>The payload length in bytes.</summary>
    public const int Length = 8;
}
