namespace VirtioRing.VhostUser.Protocol;

/// <summary>
/// A vring address description (40 bytes, <c>struct vhost_vring_addr</c>): <c>index</c>, <c>flags</c> (u32
/// each), then the descriptor, used and available ring addresses and the log address (u64 each).
/// The three ring addresses are front-end virtual (user) addresses, translated through the memory table.
/// </summary>
/// <param name="Index">The vring index.</param>
/// <param name="Flags">Bit 0: <c>VHOST_VRING_F_LOG</c>.</param>
/// <param name="DescriptorAddress">The descriptor table (split) or descriptor ring (packed), user address.</param>
/// <param name="UsedAddress">The used ring (split) or device event suppression area (packed), user address.</param>
/// <param name="AvailableAddress">The available ring (split) or driver event suppression area (packed), user address.</param>
/// <param name="LogGuestAddress">The guest address used ring writes are logged at.</param>
public readonly record struct VhostUserVringAddress(uint Index, uint Flags, ulong DescriptorAddress, ulong UsedAddress, ulong AvailableAddress, ulong LogGuestAddress)
{
    /// <summary>The payload length in bytes.</summary>
    public const int Length = 40;

    /// <summary>The <c>VHOST_VRING_F_LOG</c> flag.</summary>
    public const uint LogFlag = 1;
}
