using System;
using VirtioRing.Linux;
using VirtioRing.Memory;
using VirtioRing.VhostUser.Protocol;

namespace VirtioRing.VhostUser.Backend;

/// <summary>
/// Maps shared memory a front-end sent (a memory region, the dirty log): sealed against shrinking first where the
/// file allows it, every failure turned into the protocol error that closes the connection.
/// </summary>
internal static class SharedMemoryMapping
{
    /// <summary>Maps [<paramref name="offset"/>, + <paramref name="size"/>) of <paramref name="fd"/> at guest address <paramref name="start"/>.</summary>
    /// <param name="fd">The front-end's fd (the mapping holds a duplicate).</param>
    /// <param name="offset">The offset in the file.</param>
    /// <param name="size">The size in bytes.</param>
    /// <param name="start">The guest address of the first byte.</param>
    /// <param name="requireSealed">Refuse a file that is not, and cannot be, sealed against shrinking.</param>
    /// <param name="request">The request being served (for the error).</param>
    /// <param name="rangeError">The error for a bad size, offset or range.</param>
    /// <param name="what">Names the mapping in messages ("region at guest 0x…", "log of … bytes").</param>
    /// <returns>The mapping.</returns>
    /// <exception cref="VhostUserProtocolException">The range is bad (<paramref name="rangeError"/>), the fd cannot be mapped, or it cannot be sealed and must be.</exception>
    public static MemfdGuestRegion Map(SafeFileDescriptor fd, ulong offset, ulong size, GuestAddress start, bool requireSealed, VhostUserRequest request, VhostUserProtocolError rangeError, string what)
    {
        MemfdGuestRegion mapping;
        try
        {
            mapping = MemfdGuestRegion.Map(fd, offset, size, start, sealAgainstShrinking: true);
        }
        catch (ArgumentException e)
        {
            VhostUserThrowHelper.ThrowProtocol(rangeError, request, $"{what}: {e.Message}");
            return null;
        }
        catch (LinuxException e)
        {
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadFileDescriptor, request, $"{what} cannot be mapped: {e.Message}");
            return null;
        }

        if (requireSealed && !mapping.IsSealedAgainstShrinking)
        {
            mapping.Dispose();
            VhostUserThrowHelper.ThrowProtocol(VhostUserProtocolError.BadFileDescriptor, request, $"{what}: its file is not sealed against shrinking and cannot be (F_SEAL_SHRINK); a truncation would crash the process");
        }

        return mapping;
    }
}
