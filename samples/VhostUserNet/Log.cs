using System;
using Microsoft.Extensions.Logging;

namespace VhostUserNet;

/// <summary>The daemon's log messages (source-generated, no formatting when disabled).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "{Device}: listening on {Socket}")]
    public static partial void Listening(ILogger logger, string device, string socket);

    [LoggerMessage(2, LogLevel.Information, "{Device}: connecting to {Socket}")]
    public static partial void Connecting(ILogger logger, string device, string socket);

    [LoggerMessage(3, LogLevel.Information, "{Device}: TAP {Tap}")]
    public static partial void TapCreated(ILogger logger, string device, string tap);

    [LoggerMessage(11, LogLevel.Information, "{Device}: packet sockets on {Interface} (index {Index})")]
    public static partial void NicAttached(ILogger logger, string device, string @interface, int index);

    [LoggerMessage(4, LogLevel.Error, "{Device}: serving {Socket} failed")]
    public static partial void ServingFailed(ILogger logger, Exception error, string device, string socket);

    [LoggerMessage(5, LogLevel.Debug, "{Device}: serving ended while stopping")]
    public static partial void ServingStopped(ILogger logger, Exception error, string device);

    [LoggerMessage(6, LogLevel.Warning, "{Device}: the serving thread did not end within 10 s")]
    public static partial void ThreadStuck(ILogger logger, string device);

    [LoggerMessage(7, LogLevel.Information, "serving {Count} device(s), {Queues} queue pair(s) each, backend {Backend}, {Mode} mode")]
    public static partial void Serving(ILogger logger, int count, int queues, DaemonBackend backend, string mode);

    [LoggerMessage(8, LogLevel.Error, "could not create the devices")]
    public static partial void CreateFailed(ILogger logger, Exception error);

    [LoggerMessage(9, LogLevel.Information, "{Signal}: stopping")]
    public static partial void Stopping(ILogger logger, string signal);

    [LoggerMessage(10, LogLevel.Information, "stopped")]
    public static partial void Stopped(ILogger logger);
}
