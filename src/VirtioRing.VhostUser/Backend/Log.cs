using System;
using Microsoft.Extensions.Logging;
using VirtioRing.VhostUser.Protocol;

namespace VirtioRing.VhostUser.Backend;

/// <summary>The back-end's log messages (source-generated, allocation-free when disabled).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "vhost-user {Device}: session started")]
    public static partial void SessionStarted(ILogger logger, string device);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "vhost-user {Device}: session ended ({End}) after {Messages} message(s)")]
    public static partial void SessionEnded(ILogger logger, string device, VhostUserSessionEnd end, long messages);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "vhost-user {Device}: protocol error, closing the connection: {Reason}")]
    public static partial void ProtocolError(ILogger logger, string device, string reason, Exception exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "vhost-user {Device}: connection failed: {Reason}")]
    public static partial void TransportError(ILogger logger, string device, string reason, Exception exception);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "vhost-user {Device}: {Request}")]
    public static partial void Request(ILogger logger, string device, VhostUserRequest request);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "vhost-user {Device}: vring {Index} base {Base} differs from the used index {Used} in guest memory; continuing from the used index")]
    public static partial void BaseMismatch(ILogger logger, string device, int index, int @base, int used);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "vhost-user {Device}: queue {Index} broke ({Fault})")]
    public static partial void QueueBroken(ILogger logger, string device, int index, string fault);

    [LoggerMessage(EventId = 8, Level = LogLevel.Error, Message = "vhost-user {Device}: unexpected failure, closing the connection")]
    public static partial void InternalError(ILogger logger, string device, Exception exception);

    [LoggerMessage(EventId = 9, Level = LogLevel.Information, Message = "vhost-user {Device}: {Request} refused: {Reason}")]
    public static partial void Refused(ILogger logger, string device, VhostUserRequest request, string reason);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "vhost-user {Device}: {Request} refused: config access at offset {Offset}, size {Size}, flags {Flags}")]
    public static partial void ConfigRefused(ILogger logger, string device, VhostUserRequest request, uint offset, uint size, uint flags);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "vhost-user {Device}: {Request} maps memory the front-end can still truncate (no F_SEAL_SHRINK, and the file cannot be sealed); a truncation would end this process with SIGBUS. Use sealed memfds (QEMU: memory-backend-memfd) or set RequireSealedMemory to refuse such memory")]
    public static partial void UnsealedMemory(ILogger logger, string device, VhostUserRequest request);
}
