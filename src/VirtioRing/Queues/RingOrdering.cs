using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Threading;

namespace VirtioRing.Queues;

/// <summary>
/// The one place for memory ordering on shared rings (STYLE C4). Each call site names the
/// virtio barrier it implements. Ring fields are little-endian; the swaps fold away on
/// little-endian hosts.
/// </summary>
internal static class RingOrdering
{
    /// <summary>Reads a shared 16-bit field; later reads cannot move before it (read barrier after index read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort LoadAcquire(ref ushort le) => FromLe(Volatile.Read(ref le));

    /// <summary>Writes a shared 16-bit field; earlier writes cannot move after it (write barrier before index update).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreRelease(ref ushort le, ushort value) => Volatile.Write(ref le, ToLe(value));

    /// <summary>Reads a shared 16-bit field with no ordering (fields only this side writes, or hints).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort LoadRelaxed(ref ushort le) => FromLe(le);

    /// <summary>Writes a shared 16-bit field with no ordering.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreRelaxed(ref ushort le, ushort value) => le = ToLe(value);

    /// <summary>Full barrier (store → load): between publishing an index and reading the other side's event/flags.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Full() => Interlocked.MemoryBarrier();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort FromLe(ushort v) => BitConverterIsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort ToLe(ushort v) => BitConverterIsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);

    private static bool BitConverterIsLittleEndian => System.BitConverter.IsLittleEndian;
}
