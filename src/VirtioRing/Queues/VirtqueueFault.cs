namespace VirtioRing.Queues;

/// <summary>
/// Why a queue stopped: something the other side wrote into shared memory broke the rules of the
/// ring. A queue with a fault is broken for good (until reset); other queues are unaffected.
/// </summary>
public enum VirtqueueFault
{
    /// <summary>No fault: the queue works.</summary>
    None = 0,

    /// <summary>A ring area (descriptor table/ring, avail or used ring, event structures) is not wholly inside guest memory.</summary>
    RingOutOfRange,

    /// <summary>The available index moved ahead of the last one seen by more than the queue size (split, §2.7.13.3).</summary>
    AvailIndexJump,

    /// <summary>A descriptor index (a chain head or a <c>next</c> field) is not below the queue size.</summary>
    DescriptorIndexOutOfRange,

    /// <summary>A chain visits a descriptor twice: a loop (detected as more descriptors than the table holds).</summary>
    DescriptorLoop,

    /// <summary>A chain has more descriptors than the queue size (§2.7.5.3.1, §2.8.4).</summary>
    ChainTooLong,

    /// <summary>The buffers of a chain add up to 2^32 bytes or more.</summary>
    ChainTooLarge,

    /// <summary>An indirect table contains an indirect descriptor (§2.7.5.3.1: forbidden).</summary>
    NestedIndirect,

    /// <summary>An indirect table's length is zero or not a multiple of 16 bytes.</summary>
    IndirectTableLength,

    /// <summary>An indirect descriptor also has <c>NEXT</c> set, or indirect descriptors were not negotiated.</summary>
    IndirectNotAllowed,

    /// <summary>A buffer's address + length wraps past 2^64.</summary>
    AddressOverflow,

    /// <summary>A buffer lies outside every guest memory region, or runs past the end of its region.</summary>
    BufferOutOfRange,

    /// <summary>A device-readable descriptor follows a device-writable one (§2.7.4.2).</summary>
    WritableBeforeReadable,

    /// <summary>More chains are outstanding than the queue size allows: the driver reused descriptors still in flight.</summary>
    TooManyInFlight,

    /// <summary>The device returned a buffer id that is not outstanding, or out of range (driver side).</summary>
    InvalidUsedId,

    /// <summary>The device reported writing more bytes than the chain's writable buffers hold (driver side).</summary>
    InvalidUsedLength,

    /// <summary>The used index moved ahead by more than the number of outstanding buffers (driver side).</summary>
    UsedIndexJump,
}
