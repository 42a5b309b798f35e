using System;
using System.Buffers.Binary;

namespace QueueDemo;

/// <summary>
/// The bytes a buffer carries: eight little-endian 64-bit words derived from the buffer's
/// sequence number and its direction, so that a payload delivered to the wrong buffer, out of
/// order, torn or stale is caught.
/// </summary>
internal static class Payload
{
    /// <summary>Salt of a request the driver writes and the device reads.</summary>
    public const ulong Request = 0x5245_5155_4553_5400;   // "REQUEST"

    /// <summary>Salt of a response the device writes and the driver reads.</summary>
    public const ulong Response = 0x5245_5350_4f4e_5300;  // "RESPONS"

    /// <summary>Writes the payload of buffer <paramref name="sequence"/> into <paramref name="destination"/>.</summary>
    public static void Fill(Span<byte> destination, ulong sequence, ulong salt)
    {
        for (int i = 0; i + sizeof(ulong) <= destination.Length; i += sizeof(ulong))
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination.Slice(i), Word(sequence, salt, i));
        }
    }

    /// <summary>Tells whether <paramref name="source"/> holds exactly the payload of buffer <paramref name="sequence"/>.</summary>
    public static bool Matches(ReadOnlySpan<byte> source, ulong sequence, ulong salt)
    {
        if (source.Length != DemoOptions.SegmentBytes)
        {
            return false;
        }

        for (int i = 0; i + sizeof(ulong) <= source.Length; i += sizeof(ulong))
        {
            if (BinaryPrimitives.ReadUInt64LittleEndian(source.Slice(i)) != Word(sequence, salt, i))
            {
                return false;
            }
        }

        return true;
    }

    private static ulong Word(ulong sequence, ulong salt, int offset) =>
        unchecked((sequence * 0x9E37_79B9_7F4A_7C15UL) ^ salt ^ (ulong)offset);
}
