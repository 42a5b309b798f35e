namespace VirtioRing.Memory;

/// <summary>The outcome of translating a guest range (address, length) to host memory.</summary>
public enum GuestMemoryStatus
{
    /// <summary>The whole range lies inside one region.</summary>
    Ok = 0,

    /// <summary>The start address lies in no region.</summary>
    Unmapped,

    /// <summary>Address + length wraps past 2^64.</summary>
    AddressOverflow,

    /// <summary>
    /// The range starts inside a region but runs past its end. Ranges are never split across
    /// regions, even adjacent ones: the library rejects them (see <see cref="GuestMemory"/>).
    /// </summary>
    CrossesRegionEnd,

    /// <summary>The range is longer than a span can describe (more than <see cref="int.MaxValue"/> bytes).</summary>
    TooLong,
}
