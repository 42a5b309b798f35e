using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using VirtioRing.Linux;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;
using VirtioRing.VhostUser.Backend;
using VirtioRing.VhostUser.Transport;

namespace VirtioRing.VhostUser.Tests.Infrastructure;

/// <summary>A NetDevice (loopback echo, epoll workers) behind a VhostUserNetBackend, served on a socketpair from a background thread.</summary>
public sealed class BackendHarness : IDisposable
{
    public static readonly MacAddress Mac = MacAddress.Parse("52:54:00:12:34:56");

    private readonly EpollWorkerSignalFactory _signals = new();

    public BackendHarness(int maxQueuePairs = 1, VhostUserNetBackendOptions? options = null, bool epollWorkers = true, LoopbackBackend? loopback = null)
    {
        Loopback = loopback ?? new LoopbackBackend(LoopbackMode.Echo);
        Device = new NetDevice(new NetDeviceOptions
        {
            Mac = Mac,
            MaxQueuePairs = maxQueuePairs,
            Backend = Loopback,
            WorkerMode = NetWorkerMode.Blocking,
            SignalFactory = epollWorkers ? _signals.Create : null,
        });
        Backend = new VhostUserNetBackend(Device, options ?? new VhostUserNetBackendOptions { Logger = Logger });
    }

    public ListLogger Logger { get; } = new();

    public LoopbackBackend Loopback { get; }

    public NetDevice Device { get; }

    public VhostUserNetBackend Backend { get; }

    /// <summary>Connects a new front-end and serves it on a background thread.</summary>
    public (TestFrontend Frontend, Task<VhostUserSessionResult> Session) Connect()
    {
        (VhostUserChannel a, VhostUserChannel b) = VhostUserChannel.CreatePair();
        Task<VhostUserSessionResult> session = Task.Factory.StartNew(
            () =>
            {
                using (b)
                {
                    return Backend.Serve(b);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        return (new TestFrontend(a) { Diagnostics = () => string.Join(" | ", Logger.Entries) }, session);
    }

    /// <summary>Waits (10 s at most) for a session to end.</summary>
    public static VhostUserSessionResult Finish(Task<VhostUserSessionResult> session) =>
        session.Wait(10_000) ? session.Result : throw new TimeoutException("the session did not end");

    public void Dispose()
    {
        Backend.Dispose();
        Device.Dispose();
        _signals.Dispose();
    }
}

/// <summary>A logger that keeps what it was told.</summary>
public sealed class ListLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    /// <summary>Gets the lowest level kept (default Information; Debug also keeps every request the back-end handled).</summary>
    public LogLevel MinimumLevel { get; init; } = LogLevel.Information;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= MinimumLevel;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            Entries.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}
