using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using Microsoft.Extensions.Logging;
using VirtioRing.Linux;
using VirtioRing.Linux.Tap;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;
using VirtioRing.Net.Switching;
using VirtioRing.VhostUser.Backend;
using VirtioRing.VhostUser.Protocol;

namespace VhostUserNet;

/// <summary>
/// The daemon: one <see cref="NetDevice"/> per socket, each served by a <see cref="VhostUserNetBackend"/> on a
/// thread of its own (server or reconnecting client mode), its frames going to one shared <see cref="NetSwitch"/>
/// or to a TAP of its own. Used by the sample's <c>Program</c> and, in-process, by the QEMU interop tests.
/// </summary>
public sealed class VhostUserDaemon : IDisposable
{
    private readonly DaemonOptions _options;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<DaemonDevice> _devices = [];
    private readonly object _gate = new();
    private bool _disposed;

    /// <summary>Creates the devices (and the switch or the TAPs); nothing is served until <see cref="Start"/>.</summary>
    /// <param name="options">What to serve.</param>
    /// <param name="loggers">Where the backends and the daemon log.</param>
    public VhostUserDaemon(DaemonOptions options, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        if (options.Sockets.Count == 0)
        {
            throw new ArgumentException("At least one socket is needed.", nameof(options));
        }

        _options = options;
        _loggers = loggers;
        _log = loggers.CreateLogger("VhostUserNet");
        Switch = options.Backend == DaemonBackend.Switch ? new NetSwitch() : null;
        try
        {
            for (int i = 0; i < options.Sockets.Count; i++)
            {
                _devices.Add(CreateDevice(i, options.Sockets[i]));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Gets the switch joining the devices, or null with TAP backends.</summary>
    public NetSwitch? Switch { get; }

    /// <summary>Gets the devices, one per socket, in the order of the sockets.</summary>
    public IReadOnlyList<DaemonDevice> Devices => _devices;

    /// <summary>Starts one serving thread per socket.</summary>
    public void Start()
    {
        foreach (DaemonDevice d in _devices)
        {
            DaemonDevice device = d;
            device.Thread = new Thread(() => Serve(device)) { IsBackground = true, Name = "vhost-user " + device.Name };
            device.Thread.Start();
        }
    }

    /// <summary>Formats the one-line counter summary: frames and bytes each device transmitted and received.</summary>
    /// <returns>The line.</returns>
    public string FormatCounters()
    {
        var line = new StringBuilder();
        foreach (DaemonDevice d in _devices)
        {
            long rxFrames = 0, rxBytes = 0, txFrames = 0, txBytes = 0, drops = 0;
            for (int p = 0; p < d.Device.MaxQueuePairs; p++)
            {
                NetQueueCounters rx = d.Device.GetCounters(2 * p);
                NetQueueCounters tx = d.Device.GetCounters((2 * p) + 1);
                rxFrames += rx.Packets;
                rxBytes += rx.Bytes;
                txFrames += tx.Packets;
                txBytes += tx.Bytes;
                drops += rx.TotalDrops + tx.TotalDrops;
            }

            if (line.Length > 0)
            {
                line.Append(" | ");
            }

            line.Append(CultureInfo.InvariantCulture, $"{d.Name} {(d.Device.IsRunning ? "up" : "down")} {d.Device.ActivePairs}q tx {txFrames} fr {txBytes} B, rx {rxFrames} fr {rxBytes} B, drops {drops}");
        }

        return line.ToString();
    }

    /// <summary>Stops serving (ends every session), waits for the serving threads, disposes the devices and removes the sockets the daemon listened on.</summary>
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

        _stop.Cancel();
        foreach (DaemonDevice d in _devices)
        {
            d.Backend.Dispose();
        }

        foreach (DaemonDevice d in _devices)
        {
            if (d.Thread is { } t && !t.Join(TimeSpan.FromSeconds(10)))
            {
                Log.ThreadStuck(_log, d.Name);
            }

            d.Device.Dispose();
            d.Signals.Dispose();
            d.Tap?.Dispose();
            if (!_options.Client)
            {
                // The listener removes its socket; a thread that never got to bind leaves none, but be sure.
                try
                {
                    File.Delete(d.Socket);
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }

        _stop.Dispose();
    }

    private DaemonDevice CreateDevice(int index, string socket)
    {
        string name = "vu" + index.ToString(CultureInfo.InvariantCulture);
        TapBackend? tap = null;
        INetBackend backend;
        if (Switch is not null)
        {
            backend = Switch.AddGuestPort(name, null, _options.Queues);
        }
        else
        {
            tap = TapBackend.Create(new TapOptions { Queues = _options.Queues, MultiQueue = _options.Queues > 1 });
            backend = tap;
            Log.TapCreated(_log, name, tap.Name);
        }

        var signals = new EpollWorkerSignalFactory();
        NetDevice device;
        try
        {
            device = new NetDevice(new NetDeviceOptions
            {
                Name = name,
                Mac = MacAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"52:54:00:00:00:{(index + 1) & 0xff:x2}")),
                MaxQueuePairs = _options.Queues,
                Backend = backend,
                WorkerMode = NetWorkerMode.Blocking,
                SignalFactory = signals.Create,
            });
        }
        catch
        {
            signals.Dispose();
            tap?.Dispose();
            throw;
        }

        // QEMU 7.2 runs one vhost_dev per queue pair on the same socket, each with its own copy of the memory slots:
        // with CONFIGURE_MEM_SLOTS the second pair's start sends ADD_MEM_REG for the region the first already added,
        // which the backend refuses as an overlap (BadMemoryRegion) and closes the connection. Until the backend
        // treats an identical region as already present, multi-queue devices offer SET_MEM_TABLE only.
        VhostUserProtocolFeatures protocol = VhostUserNetBackendOptions.DefaultProtocolFeatures;
        if (_options.Queues > 1 && !_options.MemorySlotsWithMultiqueue)
        {
            protocol &= ~VhostUserProtocolFeatures.ConfigureMemSlots;
        }

        var vhost = new VhostUserNetBackend(device, new VhostUserNetBackendOptions
        {
            ProtocolFeatures = protocol,
            Logger = _loggers.CreateLogger("VhostUserNet." + name),
        });
        return new DaemonDevice(name, socket, device, vhost, signals, tap);
    }

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
