using System;
using System.Buffers.Binary;

namespace VirtioRing.VhostUser.Protocol;

/// <summary>
/// The 12-byte message header: <c>request</c> (u32), <c>flags</c> (u32), <c>size</c> (u32, the payload
/// length). All numbers are in the machine's byte order; this library supports little-endian hosts only.
/// </summary>
/// <param name="Request">The request code.</param>
/// <param name="Flags">Version, reply and need-reply bits.</param>
/// <param name="Size">The payload length in bytes.</param>
public readonly record struct VhostUserHeader(VhostUserRequest Request, VhostUserHeaderFlags Flags, uint Size)
{
    /// <summary>The header length in bytes.</summary>
    public const int Length = 12;

    /// <summary>Gets whether the reply bit is set.</summary>
    public bool IsReply => (Flags & VhostUserHeaderFlags.Reply) != 0;

    /// <summary>Gets whether the need-reply bit is set.</summary>
    public bool NeedsReply => (Flags & VhostUserHeaderFlags.NeedReply) != 0;

    /// <summary>Reads exactly <see cref="Length"/> bytes, without validating them.</summary>
    /// <param name="source">At least 12 bytes.</param>
    /// <returns>The header.</returns>
    /// <exception cref="ArgumentException"><paramref name="source"/> is shorter than 12 bytes.</exception>
    public static VhostUserHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Length)
        {
            VhostUserThrowHelper.ThrowArgument(nameof(source), "A header is 12 bytes.");
        }

        return new VhostUserHeader(
            (VhostUserRequest)BinaryPrimitives.ReadUInt32LittleEndian(source),
            (VhostUserHeaderFlags)BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(4)),
            BinaryPrimitives.ReadUInt32LittleEndian(source.Slice(8)));
    }

    /// <summary>Writes exactly <see cref="Length"/> bytes.</summary>
    /// <param name="destination">At least 12 bytes.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 12 bytes.</exception>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Length)
        {
            VhostUserThrowHelper.ThrowArgument(nameof(destination), "A header is 12 bytes.");
        }

        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)Request);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(4), (uint)Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination.Slice(8), Size);
    }
}
