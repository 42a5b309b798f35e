using System;
using System.CommandLine;
using System.CommandLine.Invocation;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using Microsoft.Extensions.Logging;
using VirtioRing.Net.Engine;
using VirtioRing.Net.Switching;

namespace VhostUserNet;

/// <summary>The daemon's command line: options, their checks, and the run that follows a good parse.</summary>
public static class DaemonCommandLine
{
    /// <summary>Parses <paramref name="args"/> and runs the daemon (or prints help or the error).</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="configuration">Where output and errors go; null for the console.</param>
    /// <returns>The exit code: 0 after a clean stop or help, 1 when the arguments or the setup were wrong.</returns>
    public static int Invoke(string[] args, InvocationConfiguration? configuration = null)
    {
        ParseResult parse = Create().Parse(args);
        if (parse.Action is ParseErrorAction error)
        {
            // One clear line per error, not the whole help text after it; --help shows that.
            error.ShowHelp = false;
        }

        return parse.Invoke(configuration);
    }

    /// <summary>Builds the root command; its action runs the daemon until SIGINT/SIGTERM or <c>--duration</c>.</summary>
    /// <returns>The command.</returns>
    public static RootCommand Create()
    {
        var sockets = new Option<string[]>("--socket")
        {
            Description = "A vhost-user socket path; repeat it, one per guest (QEMU: -chardev socket,path=PATH). "
                + "The daemon listens there (and removes the file on exit) unless --client is given.",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
            HelpName = "PATH",
        };

        var queues = new Option<int>("--queues")
        {
            Description = "The most queue pairs each device offers (VIRTIO_NET_F_MQ when more than one), 1..16; "
                + "the guest chooses how many it uses (ethtool -L eth0 combined N). Match QEMU's -netdev vhost-user,queues=N.",
            DefaultValueFactory = _ => 1,
            HelpName = "N",
        };
        queues.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 16)
            {
                r.AddError("--queues must be between 1 and 16.");
            }
        });

        var backend = new Option<string>("--backend")
        {
            Description = "switch: all devices are ports of one learning switch, so guests on this daemon reach each other; "
                + "tap: each device gets its own TAP (vrtapN, multi-queue when --queues > 1; needs CAP_NET_ADMIN); "
                + "nic: each device is attached to a network interface of its own (--interface, one per --socket) through "
                + "AF_PACKET sockets, one per queue pair in a fanout group, the interface in promiscuous mode (needs CAP_NET_RAW).",
            DefaultValueFactory = _ => "switch",
            HelpName = "switch|tap|nic",
        };
        backend.AcceptOnlyFromAmong("switch", "tap", "nic");

        var flow = new Option<string>("--flow-control")
        {
            Description = "With --backend switch, what a frame for a guest that has no free receive buffer gets. drop (the "
                + "default): dropped and counted, as a hardware switch does; no guest can hold up another. lossless: held in "
                + "the sender's transmit ring until the receiver has room, so nothing is lost between guests, but a guest "
                + "that starts its rings and never posts receive buffers stalls every sender that reaches it, broadcasts "
                + "included: only for guests that trust each other.",
            DefaultValueFactory = _ => "drop",
            HelpName = "drop|lossless",
        };
        flow.AcceptOnlyFromAmong("drop", "lossless");

        var pollThreads = new Option<int>("--poll-threads")
        {
            Description = "0 (the default): every queue pair of every device has a worker thread of its own (--worker-mode). "
                + "N: N daemon threads poll all the devices' queue pairs instead (pair p of device d by thread "
                + "(d * queues + p) mod N), each spinning briefly when it finds nothing to do, then sleeping on its pairs' kicks; "
                + "1 is DPDK's layout of one forwarding core for every queue (measured on one core: as fast as the per-pair "
                + "workers, not faster; benchmarks/RESULTS.md).",
            DefaultValueFactory = _ => 0,
            HelpName = "N",
        };
        pollThreads.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > DaemonOptions.MaxPollThreads)
            {
                r.AddError($"--poll-threads must be between 0 and {DaemonOptions.MaxPollThreads}.");
            }
        });

        var workerMode = new Option<string>("--worker-mode")
        {
            Description = "Without --poll-threads, how each queue pair's worker runs. blocking (the default): it sleeps on the "
                + "pair's kicks when its rings are empty. busy-poll: it never sleeps (one core per active pair, no wake-up "
                + "latency; the driver is asked not to kick).",
            DefaultValueFactory = _ => "blocking",
            HelpName = "blocking|busy-poll",
        };
        workerMode.AcceptOnlyFromAmong("blocking", "busy-poll");

        var steering = new Option<string>("--steering")
        {
            Description = "With --backend switch, which receive queue of a guest gets a frame. flow (the default): the guest's "
                + "own steering (virtio automatic receive steering follows each flow back to the queue pair the guest "
                + "sends it on; or the guest's RSS). queue: queue affinity as DPDK's io forwarding, a frame sent on pair i "
                + "goes to the receiver's pair i modulo its active pairs, whatever its flow.",
            DefaultValueFactory = _ => "flow",
            HelpName = "flow|queue",
        };
        steering.AcceptOnlyFromAmong("flow", "queue");

        var interfaces = new Option<string[]>("--interface")
        {
            Description = "With --backend nic: the network interface (a physical port, an SR-IOV VF, a veth end) of a device; "
                + "repeat it, one per --socket in the same order (the first --interface serves the first --socket). "
                + "Each interface at most once: packet sockets on one interface would each see every frame.",
            AllowMultipleArgumentsPerToken = false,
            HelpName = "IFNAME",
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
            HelpName = "SECONDS",
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
            Description = "Seconds between two one-line counter summaries on standard output (per device: up/down, active "
                + "pairs, frames and bytes sent and received, drops); 0 prints one only at exit. The same counters are "
                + "published through System.Diagnostics.Metrics (meter " + DaemonOptions.DefaultMeterName + ", and "
                + VirtioRing.Net.Switching.NetSwitch.DefaultMeterName + " for the switch's ports): dotnet-counters monitor -n VhostUserNet.",
            DefaultValueFactory = _ => 5,
            HelpName = "SECONDS",
        };
        interval.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
            {
                r.AddError("--stats-interval cannot be negative.");
            }
        });

        var sealedMemory = new Option<bool>("--require-sealed-memory")
        {
            Description = "Refuse guest memory (and a dirty log) the front-end could still truncate: each region's file is "
                + "sealed against shrinking where it allows it (QEMU's memory-backend-memfd comes sealed); a truncated "
                + "mapping would end this daemon and every guest on it with SIGBUS. Without it such memory is served with "
                + "a warning (DPDK's memfds, tmpfs and hugetlbfs files cannot be sealed).",
        };

        var verbose = new Option<bool>("--verbose")
        {
            Description = "Log vhost-user sessions in detail (debug level).",
        };

        var root = new RootCommand(
            "A vhost-user net backend daemon built on VirtioRing: one virtio-net device per --socket, served to QEMU "
            + "(or any vhost-user front-end) on the guest's own memory; frames are switched between the guests, sent "
            + "to TAP devices, or sent out of network interfaces. Prints a counter summary periodically and stops "
            + "cleanly on SIGINT/SIGTERM.")
        {
            sockets,
            queues,
            backend,
            flow,
            steering,
            pollThreads,
            workerMode,
            interfaces,
            client,
            duration,
            interval,
            sealedMemory,
            verbose,
        };

        DaemonOptions Options(Func<Option, object?> get) =>
            new((string[]?)get(sockets) ?? [], (int)get(queues)!, ParseBackend((string?)get(backend)), (bool)get(client)!,
                TimeSpan.FromSeconds((int)get(duration)!), TimeSpan.FromSeconds((int)get(interval)!))
            {
                Interfaces = (string[]?)get(interfaces) ?? [],
                RequireSealedMemory = (bool)get(sealedMemory)!,
                FlowControl = (string?)get(flow) == "lossless" ? NetSwitchFlowControl.Lossless : NetSwitchFlowControl.DropAndCount,
                Steering = (string?)get(steering) == "queue" ? NetSwitchSteering.QueueAffinity : NetSwitchSteering.Flow,
                PollThreads = (int)get(pollThreads)!,
                WorkerMode = (string?)get(workerMode) == "busy-poll" ? NetWorkerMode.BusyPoll : NetWorkerMode.Blocking,
            };

        root.Validators.Add(r =>
        {
            DaemonOptions o;
            try
            {
                o = Options(option => option switch
                {
                    Option<string[]> a => r.GetValue(a),
                    Option<int> i => r.GetValue(i),
                    Option<string> s => r.GetValue(s),
                    Option<bool> b => r.GetValue(b),
                    _ => null,
                });
            }
            catch (InvalidOperationException)
            {
                return;   // a value that does not convert: its option reports it
            }

            // A missing --socket or a bad --queues has its own error already.
            if (o.Sockets.Count > 0 && (o with { Queues = 1, PollThreads = Math.Clamp(o.PollThreads, 0, DaemonOptions.MaxPollThreads) }).Validate() is { } problem)
            {
                r.AddError(problem + ".");
            }
        });

        root.SetAction(parse =>
        {
            DaemonOptions options = Options(option => option switch
            {
                Option<string[]> a => parse.GetValue(a),
                Option<int> i => parse.GetValue(i),
                Option<string> s => parse.GetValue(s),
                Option<bool> b => parse.GetValue(b),
                _ => null,
            });
            using ILoggerFactory loggers = LoggerFactory.Create(b => b
                .AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss.fff ";
                })
                .SetMinimumLevel(parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information));
            return Run(options, loggers, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        });
        return root;
    }

    /// <summary>Runs the daemon until SIGINT/SIGTERM or <see cref="DaemonOptions.Duration"/>, printing the counter line to <paramref name="output"/>.</summary>
    /// <param name="options">What to serve.</param>
    /// <param name="loggers">Where to log.</param>
    /// <param name="output">Where the counter summaries go.</param>
    /// <param name="error">Where a setup failure is reported (one line).</param>
    /// <returns>0 after a clean stop; 1 when the devices could not be created.</returns>
    public static int Run(DaemonOptions options, ILoggerFactory loggers, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        ILogger log = loggers.CreateLogger("VhostUserNet");
        using var stop = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            if (stop.IsCancellationRequested)
            {
                return;   // a second signal while stopping: the default action ends the process now
            }

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
        catch (Exception e) when (e is DaemonSetupException or ArgumentException)
        {
            error.WriteLine("VhostUserNet: " + e.Message);
            return 1;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.CreateFailed(log, e);
            error.WriteLine("VhostUserNet: could not create the devices: " + e.Message);
            return 1;
        }

        using (daemon)
        {
            daemon.Start();
            Log.Serving(log, options.Sockets.Count, options.Queues, options.Backend, options.Client ? "client" : "server");
            TimeSpan wait = options.ReportInterval > TimeSpan.Zero ? options.ReportInterval : Timeout.InfiniteTimeSpan;
            while (!stop.Token.WaitHandle.WaitOne(wait))
            {
                output.WriteLine(daemon.FormatCounters());
            }

            output.WriteLine(daemon.FormatCounters());
        }

        Log.Stopped(log);
        return 0;
    }

    private static DaemonBackend ParseBackend(string? name) => name switch
    {
        "tap" => DaemonBackend.Tap,
        "nic" => DaemonBackend.Nic,
        _ => DaemonBackend.Switch,
    };
}
