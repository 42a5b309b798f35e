namespace VirtioRing.VhostUser.Protocol;

/// <summary>Why a vhost-user message or session was refused (<see cref="VhostUserProtocolException.Error"/>).</summary>
public enum VhostUserProtocolError
{
    /// <summary>The peer closed the connection in the middle of a message.</summary>
    Truncated = 1,

    /// <summary>The header's version bits are not 0x1.</summary>
    BadVersion,

    /// <summary>A request carries the reply flag, or a reply lacks it.</summary>
    BadFlags,

    /// <summary>The request code is not one this library knows.</summary>
    UnknownRequest,

    /// <summary>The request is known but not supported (or its protocol feature was not negotiated).</summary>
    UnsupportedRequest,

    /// <summary>The header's size is larger than any payload of its request (or than the channel's cap).</summary>
    PayloadTooLarge,

    /// <summary>The payload size does not match the request's layout.</summary>
    WrongPayloadSize,

    /// <summary>A memory table has no region or more than the back-end supports.</summary>
    TooManyRegions,

    /// <summary>Fewer file descriptors than the request needs.</summary>
    MissingFd,

    /// <summary>More file descriptors than the request takes (or than 8).</summary>
    UnexpectedFd,

    /// <summary>The kernel truncated the ancillary data (<c>MSG_CTRUNC</c>).</summary>
    ControlTruncated,

    /// <summary>A field has a value the request does not allow (queue size, flag, feature bit).</summary>
    InvalidValue,

    /// <summary>A ring index is not a queue of this device.</summary>
    BadQueueIndex,

    /// <summary>The request came before what it depends on (a kick before the ring's size and address…).</summary>
    OutOfOrder,

    /// <summary>A memory region overlaps another, wraps, or lies past the end of its file.</summary>
    BadMemoryRegion,

    /// <summary>A ring address is not inside a memory region, or is misaligned.</summary>
    BadRingAddress,

    /// <summary>A passed descriptor is not of the kind the request needs (an eventfd, mappable memory).</summary>
    BadFileDescriptor,

    /// <summary>The accepted features are not valid for the device.</summary>
    InvalidFeatures,

    /// <summary>A reply did not match the request it answers.</summary>
    UnexpectedReply,

    /// <summary>A dirty log (<c>SET_LOG_BASE</c>) is empty, wraps, or lies past the end of its file.</summary>
    BadLog,
}
