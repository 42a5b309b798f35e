namespace VirtioRing.VhostUser.Protocol;

/// <summary>
/// A memory region (32 bytes): guest-physical address, size, front-end user address and the offset
/// of the region in the fd passed with it (all u64).
/// </summary>
/// <param name="GuestAddress">The guest-physical address of the first byte.</param>
/// <param name="Size">The size in bytes.</param>
/// <param name="UserAddress">The front-end's virtual address of the first byte.</param>
/// <param name="MmapOffset">Where the region starts in its file.</param>
public readonly record struct VhostUserMemoryRegion(ulong GuestAddress, ulong Size, ulong UserAddress, ulong MmapOffset)
{
    /// <summary>The length of one region in bytes.</summary>
    public const int Length = 32;
}
