using Microsoft.Extensions.Logging;
using VirtioRing.VhostUser.Protocol;

namespace VirtioRing.VhostUser.Backend;

/// <summary>Options of a <see cref="VhostUserNetBackend"/>.</summary>
public sealed class VhostUserNetBackendOptions
{
    /// <summary>The protocol features implemented and offered by default: <c>MQ</c>, <c>LOG_SHMFD</c>, <c>RARP</c>, <c>REPLY_ACK</c>, <c>CONFIG</c>, <c>CONFIGURE_MEM_SLOTS</c>, <c>STATUS</c>.</summary>
    public const VhostUserProtocolFeatures DefaultProtocolFeatures =
        VhostUserProtocolFeatures.Mq | VhostUserProtocolFeatures.LogShmfd | VhostUserProtocolFeatures.Rarp | VhostUserProtocolFeatures.ReplyAck |
        VhostUserProtocolFeatures.Config | VhostUserProtocolFeatures.ConfigureMemSlots | VhostUserProtocolFeatures.Status;

    /// <summary>Gets the protocol features to offer; bits outside <see cref="DefaultProtocolFeatures"/> are not implemented and are dropped.</summary>
    public VhostUserProtocolFeatures ProtocolFeatures { get; init; } = DefaultProtocolFeatures;

    /// <summary>Gets the number of memory slots reported by <c>GET_MAX_MEM_SLOTS</c> and allowed for <c>ADD_MEM_REG</c> (1 to 509; default 8).</summary>
    public int MaxMemorySlots { get; init; } = 8;

    /// <summary>
    /// Gets a value indicating whether memory the front-end cannot truncate is required. The back-end maps each region's
    /// file after sealing it against shrinking (<c>F_SEAL_SHRINK</c>) where the file allows that (a memfd made with
    /// <c>MFD_ALLOW_SEALING</c>; QEMU's <c>memory-backend-memfd</c> comes sealed): a front-end that truncated a mapped file
    /// would make the next access a <c>SIGBUS</c>, which ends the process and every device it serves. Files that
    /// cannot be sealed (tmpfs or hugetlbfs files, unsealable memfds) are mapped with a warning by default; with this
    /// set, they are refused (a protocol error closes the connection). The dirty log of <c>SET_LOG_BASE</c> is
    /// treated the same way. Default false.
    /// </summary>
    public bool RequireSealedMemory { get; init; }

    /// <summary>Gets the logger (errors that closed a connection, session start and end); null for none.</summary>
    public ILogger? Logger { get; init; }
}
