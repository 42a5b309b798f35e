using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using Microsoft.Extensions.Logging;
using VirtioRing.Linux;
using VirtioRing.Linux.Packet;
using VirtioRing.Linux.Tap;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;
using VirtioRing.Net.Switching;
using VirtioRing.VhostUser.Backend;

namespace VhostUserNet;

/// <summary>
/// The daemon: one <see cref="NetDevice"/> per socket, each served by a <see cref="VhostUserNetBackend"/> on a
/// thread of its own (server or reconnecting client mode), its frames going to one shared <see cref="NetSwitch"/>,
/// to a TAP of its own, or to a network interface of its own through packet sockets. Counters are published through
/// <see cref="Metrics"/> (and the switch's own meter). Used by the sample's <c>Program</c> and, in-process, by tests.
/// </summary>
public sealed class VhostUserDaemon : IDisposable
{
    private readonly DaemonOptions _options;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<DaemonDevice> _devices = [];
    private readonly object _gate = new();
    private readonly DaemonPoller? _poller;
    private bool _disposed;

    /// <summary>Creates the devices (and the switch or the TAPs); nothing is served until <see cref="Start"/>.</summary>
    /// <param name="options">What to serve.</param>
    /// <param name="loggers">Where the backends and the daemon log.</param>
    /// <exception cref="ArgumentException">The options are inconsistent (<see cref="DaemonOptions.Validate"/>).</exception>
    /// <exception cref="DaemonSetupException">A backend could not be created (no such interface, no privilege, …); the message is one line.</exception>
    public VhostUserDaemon(DaemonOptions options, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        if (options.Validate() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        _options = options;
        _loggers = loggers;
        _log = loggers.CreateLogger("VhostUserNet");
        Switch = options.Backend == DaemonBackend.Switch
            ? new NetSwitch(new NetSwitchOptions { MeterName = options.SwitchMeterName, FlowControl = options.FlowControl, GuestSteering = options.Steering })
            : null;
        try
        {
            for (int i = 0; i < options.Sockets.Count; i++)
            {
                _devices.Add(CreateDevice(i, options.Sockets[i]));
            }

            Metrics = new DaemonMetrics(options.MeterName, _devices);
            _poller = options.PollThreads > 0 ? new DaemonPoller(_devices, options.Queues, Math.Min(options.PollThreads, _devices.Count * options.Queues)) : null;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Gets the switch joining the devices (its per-port meter is <see cref="NetSwitch.Meter"/>), or null with the other backends.</summary>
    public NetSwitch? Switch { get; }

    /// <summary>Gets the daemon's meter and its per-device instruments.</summary>
    public DaemonMetrics Metrics { get; } = null!;

    /// <summary>Gets the devices, one per socket, in the order of the sockets.</summary>
    public IReadOnlyList<DaemonDevice> Devices => _devices;

    /// <summary>Gets how many times the poll threads (<see cref="DaemonOptions.PollThreads"/>) went to sleep with nothing to do; 0 without them.</summary>
    public long PollThreadSleeps => _poller?.Sleeps ?? 0;

    /// <summary>Starts the poll threads (<see cref="DaemonOptions.PollThreads"/>), if any, and one serving thread per socket.</summary>
    public void Start()
    {
        _poller?.Start();
        foreach (DaemonDevice d in _devices)
        {
            DaemonDevice device = d;
            device.Thread = new Thread(() => Serve(device)) { IsBackground = true, Name = "vhost-user " + device.Name };
            device.Thread.Start();
        }
    }

    /// <summary>
    /// Formats the one-line counter summary from the same numbers as <see cref="Metrics"/>: per device whether it is
    /// up, its active pairs, frames and bytes the guest sent (tx) and received (rx), and drops.
    /// </summary>
    /// <returns>The line (plain text, readable in a log file).</returns>
    public string FormatCounters()
    {
        var line = new StringBuilder();
        foreach (DaemonDevice d in _devices)
        {
            DaemonDeviceCounters c = d.GetCounters();
            if (line.Length > 0)
            {
                line.Append(" | ");
            }

            line.Append(CultureInfo.InvariantCulture, $"{d.Name} {(c.Up ? "up" : "down")} {c.ActivePairs}q tx {c.TxFrames} fr {c.TxBytes} B, rx {c.RxFrames} fr {c.RxBytes} B, drops tx {c.TxDrops} rx {c.RxDrops}");
        }

        return line.ToString();
    }

    /// <summary>Stops serving (ends every session), waits for the serving threads, disposes the meters, the devices and their backends, and removes the sockets the daemon listened on.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        Metrics?.Dispose();

        // Cancelling shuts each session's socket down: the session ends as if the front-end had gone (rings stopped,
        // device reset, fds closed, memory unmapped) and the serving thread returns. Only then is the backend disposed.
        _stop.Cancel();
        long deadline = Environment.TickCount64 + 10_000;   // one deadline for all the threads, not 10 s each
        var stuck = new HashSet<DaemonDevice>();
        foreach (DaemonDevice d in _devices)
        {
            if (d.Thread is { } t && !t.Join(TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64))))
            {
                Log.ThreadStuck(_log, d.Name);
                stuck.Add(d);
            }
        }

        // The sessions have ended (their devices stopped: no poll round touches their rings any more); the poll threads
        // go before the devices and the pair signals their epoll instances nest.
        _poller?.Dispose();
        foreach (DaemonDevice d in _devices)
        {
            if (stuck.Contains(d))
            {
                continue;   // never dispose a device under a thread still serving it; the process is ending anyway
            }

            d.Backend.Dispose();
            d.Device.Dispose();
            d.Signals.Dispose();
            d.Tap?.Dispose();
            d.Nic?.Dispose();
        }

        Switch?.Dispose();
        _stop.Dispose();
    }

    private DaemonDevice CreateDevice(int index, string socket)
    {
        string name = "vu" + index.ToString(CultureInfo.InvariantCulture);
        TapBackend? tap = null;
        PacketSocketBackend? nic = null;
        INetBackend backend;
        switch (_options.Backend)
        {
            case DaemonBackend.Switch:
                backend = Switch!.AddGuestPort(name, null, _options.Queues);
                break;
            case DaemonBackend.Tap:
                try
                {
                    tap = TapBackend.Create(new TapOptions { Queues = _options.Queues, MultiQueue = _options.Queues > 1 });
                }
                catch (LinuxException e)
                {
                    throw new DaemonSetupException($"{name}: cannot create a TAP device: {e.Message}{PrivilegeHint(e, "CAP_NET_ADMIN")}", e);
                }

                backend = tap;
                Log.TapCreated(_log, name, tap.Name);
                break;
            default:
                string ifname = _options.Interfaces[index];
                try
                {
                    // Queue pairs = packet sockets in one fanout group: each pair gets whole flows.
                    nic = new PacketSocketBackend(new PacketSocketOptions { Interface = ifname, Queues = _options.Queues });
                }
                catch (LinuxException e)
                {
                    throw new DaemonSetupException($"{name}: cannot attach to interface {ifname}: {e.Message}{PrivilegeHint(e, "CAP_NET_RAW")}", e);
                }

                backend = nic;
                Log.NicAttached(_log, name, ifname, nic.InterfaceIndex);
                break;
        }

        var signals = new EpollWorkerSignalFactory();
        NetDevice? device = null;
        VhostUserNetBackend vhost;
        try
        {
            device = new NetDevice(new NetDeviceOptions
            {
                Name = name,
                Mac = MacAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"52:54:00:00:00:{(index + 1) & 0xff:x2}")),
                MaxQueuePairs = _options.Queues,
                Backend = backend,
                WorkerMode = _options.PollThreads > 0 ? NetWorkerMode.Manual : _options.WorkerMode,
                SignalFactory = signals.Create,
            });
            vhost = new VhostUserNetBackend(device, new VhostUserNetBackendOptions
            {
                RequireSealedMemory = _options.RequireSealedMemory,
                Logger = _loggers.CreateLogger("VhostUserNet." + name),
            });
        }
        catch
        {
            device?.Dispose();
            signals.Dispose();
            tap?.Dispose();
            nic?.Dispose();
            throw;
        }

        return new DaemonDevice(name, socket, device, vhost, signals, tap, nic, backend as NetSwitchPort);
    }

    private static string PrivilegeHint(LinuxException e, string capability) =>
        e.Errno is 1 or 13 ? " (run as root" + (e.Message.Contains(capability, StringComparison.Ordinal) ? ")" : $" or with {capability})") : string.Empty;   // EPERM, EACCES

    private void Serve(DaemonDevice d)
    {
        try
        {
            if (_options.Client)
            {
                Log.Connecting(_log, d.Name, d.Socket);
                d.Backend.RunClient(d.Socket, TimeSpan.FromSeconds(1), _stop.Token);
            }
            else
            {
                Log.Listening(_log, d.Name, d.Socket);
                d.Backend.RunServer(d.Socket, _stop.Token);
            }
        }
        catch (Exception e) when (_stop.IsCancellationRequested)
        {
            Log.ServingStopped(_log, e, d.Name);
        }
        catch (Exception e)
        {
            // One device failing does not stop the others.
            Log.ServingFailed(_log, e, d.Name, d.Socket);
        }
    }
}
