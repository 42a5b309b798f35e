using System;

namespace VirtioRing.VhostUser.Protocol;

/// <summary>
/// A virtio device config space description: <c>offset</c>, <c>size</c>, <c>flags</c> (u32 each) and
/// <c>size</c> bytes of config space (at most <see cref="VhostUserCodec.MaxConfigSize"/>).
/// </summary>
/// <param name="Offset">The offset in the device's config space.</param>
/// <param name="Size">The number of config bytes.</param>
/// <param name="Flags">0: a writable field; 1 (<see cref="LiveMigrationFlag"/>): live migration.</param>
public readonly record struct VhostUserConfigPayload(uint Offset, uint Size, uint Flags)
{
    /// <summary>The length of the fields before the bytes.</summary>
    public const int HeaderLength = 12;

    /// <summary>The flag value for a live-migration write (read-only fields may be written).</summary>
    public const uint LiveMigrationFlag = 1;

    /// <summary>Gets the payload length: <see cref="HeaderLength"/> plus <see cref="Size"/>.</summary>
    public int PayloadLength => checked(HeaderLength + (int)Size);

    /// <summary>Gets the config bytes of a payload with this header.</summary>
    /// <param name="payload">The whole payload.</param>
    /// <returns>The <see cref="Size"/> bytes after the header.</returns>
    public ReadOnlySpan<byte> Bytes(ReadOnlySpan<byte> payload) => payload.Slice(HeaderLength, (int)Size);
}
