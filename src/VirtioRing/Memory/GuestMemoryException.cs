using System;

namespace VirtioRing.Memory;

/// <summary>A guest range could not be translated to host memory.</summary>
public sealed class GuestMemoryException : Exception
{
    /// <summary>Creates the exception for a failed translation.</summary>
    /// <param name="status">Why the translation failed.</param>
    /// <param name="address">The start of the range.</param>
    /// <param name="length">The length of the range.</param>
    public GuestMemoryException(GuestMemoryStatus status, GuestAddress address, ulong length)
        : base($"Guest range {address} + {length} bytes cannot be translated: {status}.")
    {
        Status = status;
        Address = address;
        Length = length;
    }

    /// <summary>Gets why the translation failed.</summary>
    public GuestMemoryStatus Status { get; }

    /// <summary>Gets the start of the range.</summary>
    public GuestAddress Address { get; }

    /// <summary>Gets the length of the range.</summary>
    public ulong Length { get; }
}
