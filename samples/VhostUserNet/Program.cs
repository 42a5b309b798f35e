// VhostUserNet: a vhost-user net daemon. Each --socket is one guest's virtio-net device; by default the devices are
// ports of one switch, so guests on one daemon talk to each other directly. Ctrl-C or SIGTERM stops it cleanly.
using System;
using System.CommandLine;
using System.Runtime.InteropServices;
using System.Threading;
using Microsoft.Extensions.Logging;
using VhostUserNet;

var sockets = new Option<string[]>("--socket")
{
    Description = "A vhost-user socket path; repeat it, one per guest (QEMU: -chardev socket,path=PATH). "
        + "The daemon listens there (and removes the file on exit) unless --client is given.",
    Required = true,
    AllowMultipleArgumentsPerToken = false,
};

var queues = new Option<int>("--queues")
{
    Description = "The most queue pairs each device offers (VIRTIO_NET_F_MQ when more than one), 1..16; "
        + "the guest chooses how many it uses (ethtool -L eth0 combined N). Match QEMU's -netdev vhost-user,queues=N.",
    DefaultValueFactory = _ => 1,
};
queues.Validators.Add(r =>
{
    if (r.GetValueOrDefault<int>() is < 1 or > 16)
    {
        r.AddError("--queues must be between 1 and 16.");
    }
});

var backend = new Option<DaemonBackend>("--backend")
{
    Description = "switch: all devices are ports of one learning switch, so guests on this daemon reach each other; "
        + "tap: each device gets its own TAP (vrtapN, multi-queue when --queues > 1; needs CAP_NET_ADMIN).",
    DefaultValueFactory = _ => DaemonBackend.Switch,
};

var client = new Option<bool>("--client")
{
    Description = "Client mode: QEMU listens (-chardev socket,...,server=on) and the daemon connects, retrying "
        + "and reconnecting whenever QEMU restarts, instead of listening itself.",
};

var duration = new Option<int>("--duration")
{
    Description = "Seconds to run, then stop cleanly; 0 runs until SIGINT or SIGTERM.",
    DefaultValueFactory = _ => 0,
};
duration.Validators.Add(r =>
{
    if (r.GetValueOrDefault<int>() < 0)
    {
        r.AddError("--duration cannot be negative.");
    }
});

var interval = new Option<int>("--stats-interval")
{
    Description = "Seconds between two one-line counter summaries (frames and bytes per device); 0 prints none.",
    DefaultValueFactory = _ => 5,
};

var memSlots = new Option<bool>("--mem-slots")
{
    Description = "Offer CONFIGURE_MEM_SLOTS (ADD/REM_MEM_REG) also when --queues > 1. Off by default: QEMU 7.2 adds "
        + "the same memory region once per queue pair and the backend refuses the second as an overlap.",
};

var verbose = new Option<bool>("--verbose")
{
    Description = "Log vhost-user sessions in detail (debug level).",
};

var root = new RootCommand(
    "A vhost-user net backend daemon built on VirtioRing: one virtio-net device per --socket, served to QEMU "
    + "(or any vhost-user front-end) on the guest's own memory; frames are switched between the guests or sent "
    + "to TAP devices. Prints a counter summary periodically and stops cleanly on SIGINT/SIGTERM.")
{
    sockets,
    queues,
    backend,
    client,
    duration,
    interval,
    memSlots,
    verbose,
};

root.SetAction(parse =>
{
    var options = new DaemonOptions(
        parse.GetValue(sockets) ?? [],
        parse.GetValue(queues),
        parse.GetValue(backend),
        parse.GetValue(client),
        TimeSpan.FromSeconds(parse.GetValue(duration)),
        TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(interval))))
    {
        MemorySlotsWithMultiqueue = parse.GetValue(memSlots),
    };
    using ILoggerFactory loggers = LoggerFactory.Create(b => b
        .AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        })
        .SetMinimumLevel(parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information));
    return Run(options, loggers);
});

return root.Parse(args).Invoke();

static int Run(DaemonOptions options, ILoggerFactory loggers)
{
    ILogger log = loggers.CreateLogger("VhostUserNet");
    using var stop = new CancellationTokenSource();
    void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;   // we stop ourselves, after cleaning up
        Log.Stopping(log, context.Signal.ToString());
        stop.Cancel();
    }

    using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    if (options.Duration > TimeSpan.Zero)
    {
        stop.CancelAfter(options.Duration);
    }

    VhostUserDaemon daemon;
    try
    {
        daemon = new VhostUserDaemon(options, loggers);
    }
    catch (Exception e) when (e is not OutOfMemoryException)
    {
        Log.CreateFailed(log, e);
        return 1;
    }

    using (daemon)
    {
        daemon.Start();
        Log.Serving(log, options.Sockets.Count, options.Queues, options.Backend, options.Client ? "client" : "server");
        TimeSpan wait = options.ReportInterval > TimeSpan.Zero ? options.ReportInterval : Timeout.InfiniteTimeSpan;
        while (!stop.Token.WaitHandle.WaitOne(wait))
        {
            Console.WriteLine(daemon.FormatCounters());
        }

        Console.WriteLine(daemon.FormatCounters());
    }

    Log.Stopped(log);
    return 0;
}
