using System.Diagnostics;

namespace VirtioRing.Queues;

/// <summary>A buffer the device gave back, as the driver reclaims it.</summary>
/// <param name="token">The caller's token given when the chain was added.</param>
/// <param name="writtenLength">The number of bytes the device says it wrote into the writable buffers.</param>
[DebuggerDisplay("token={Token} written={WrittenLength}")]
public readonly struct UsedBuffer(ulong token, uint writtenLength)
{
    /// <summary>Gets the caller's token given when the chain was added.</summary>
    public ulong Token { get; } = token;

    /// <summary>Gets the number of bytes the device wrote (validated against the chain's writable capacity).</summary>
    public uint WrittenLength { get; } = writtenLength;
}
