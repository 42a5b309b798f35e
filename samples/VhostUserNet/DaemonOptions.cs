using System;
using System.Collections.Generic;

namespace VhostUserNet;

/// <summary>What the daemon serves and how.</summary>
/// <param name="Sockets">One vhost-user socket per guest.</param>
/// <param name="Queues">The most queue pairs each device offers (1..16).</param>
/// <param name="Backend">Where the devices' frames go.</param>
/// <param name="Client">Connect to the sockets (QEMU listens) and reconnect, instead of listening.</param>
/// <param name="Duration">How long to run; <see cref="TimeSpan.Zero"/> runs until a signal.</param>
/// <param name="ReportInterval">Between two counter summaries; <see cref="TimeSpan.Zero"/> prints none.</param>
public sealed record DaemonOptions(
    IReadOnlyList<string> Sockets,
    int Queues,
    DaemonBackend Backend,
    bool Client,
    TimeSpan Duration,
    TimeSpan ReportInterval)
{
    /// <summary>The default <see cref="MeterName"/>.</summary>
    public const string DefaultMeterName = "VirtioRing.VhostUserNet";

    /// <summary>
    /// Gets the network interfaces of <see cref="DaemonBackend.Nic"/>, one per socket in the same order (device
    /// <c>i</c> gets a packet-socket backend on <c>Interfaces[i]</c>); each interface at most once. Unused by the
    /// other backends.
    /// </summary>
    public IReadOnlyList<string> Interfaces { get; init; } = [];

    /// <summary>
    /// Gets what the switch does with a frame for a guest that has no free receive buffer (<see cref="DaemonBackend.Switch"/>
    /// only). <see cref="VirtioRing.Net.Switching.NetSwitchFlowControl.DropAndCount"/> by default: with
    /// <see cref="VirtioRing.Net.Switching.NetSwitchFlowControl.Lossless"/>, a guest that starts its rings and never posts
    /// receive buffers stalls every sender that reaches it (broadcasts included), which no daemon serving guests that
    /// do not trust each other can allow.
    /// </summary>
    public VirtioRing.Net.Switching.NetSwitchFlowControl FlowControl { get; init; } = VirtioRing.Net.Switching.NetSwitchFlowControl.DropAndCount;

    /// <summary>
    /// Gets a value indicating whether guest memory (and a dirty log) the front-end could still truncate is refused
    /// (<see cref="VirtioRing.VhostUser.Backend.VhostUserNetBackendOptions.RequireSealedMemory"/>): a truncated mapping
    /// would end the daemon and every guest on it with SIGBUS. Off by default, since DPDK's memfds cannot be sealed.
    /// </summary>
    public bool RequireSealedMemory { get; init; }

    /// <summary>
    /// Gets how many daemon threads poll the devices' queue pairs, 0 (the default) to <see cref="MaxPollThreads"/>. With 0
    /// every queue pair has a worker thread of its own that sleeps on the pair's kicks (<see cref="WorkerMode"/>); with N
    /// the devices run in <see cref="VirtioRing.Net.Engine.NetWorkerMode.Manual"/> and N threads poll the pairs, each
    /// pair always by the same thread (pair <c>p</c> of device <c>d</c> by thread <c>(d × Queues + p) mod N</c>), a
    /// thread sleeping on its pairs' kicks once a short spin found nothing to do. 1 is DPDK's layout of one forwarding
    /// core for all queues.
    /// </summary>
    public int PollThreads { get; init; }

    /// <summary>The most <see cref="PollThreads"/>.</summary>
    public const int MaxPollThreads = 64;

    /// <summary>
    /// Gets how each queue pair's worker runs when <see cref="PollThreads"/> is 0:
    /// <see cref="VirtioRing.Net.Engine.NetWorkerMode.Blocking"/> (the default; sleeps when its rings are empty) or
    /// <see cref="VirtioRing.Net.Engine.NetWorkerMode.BusyPoll"/> (never sleeps: a core per active pair, no wake-up
    /// latency, no kicks from the driver).
    /// </summary>
    public VirtioRing.Net.Engine.NetWorkerMode WorkerMode { get; init; } = VirtioRing.Net.Engine.NetWorkerMode.Blocking;

    /// <summary>
    /// Gets which receive queue of a guest the switch delivers to (<see cref="DaemonBackend.Switch"/> only):
    /// <see cref="VirtioRing.Net.Switching.NetSwitchSteering.Flow"/> by default (the guest's own steering: automatic
    /// receive steering or RSS), or <see cref="VirtioRing.Net.Switching.NetSwitchSteering.QueueAffinity"/> (a frame sent
    /// on pair i goes to the receiver's pair i modulo its active pairs, as DPDK's io forwarding).
    /// </summary>
    public VirtioRing.Net.Switching.NetSwitchSteering Steering { get; init; } = VirtioRing.Net.Switching.NetSwitchSteering.Flow;

    /// <summary>Gets the name of the daemon's <see cref="System.Diagnostics.Metrics.Meter"/> (per-device counters, see <see cref="DaemonMetrics"/>).</summary>
    public string MeterName { get; init; } = DefaultMeterName;

    /// <summary>Gets the name of the switch's own meter (per-port counters; <see cref="DaemonBackend.Switch"/> only).</summary>
    public string SwitchMeterName { get; init; } = VirtioRing.Net.Switching.NetSwitch.DefaultMeterName;

    /// <summary>Checks the options together (what one option alone cannot tell).</summary>
    /// <returns>A one-line description of the first problem, or <see langword="null"/> when the options are consistent.</returns>
    public string? Validate()
    {
        if (Sockets.Count == 0)
        {
            return "at least one --socket is needed";
        }

        if (Queues is < 1 or > 16)
        {
            return "--queues must be between 1 and 16";
        }

        if (PollThreads is < 0 or > MaxPollThreads)
        {
            return $"--poll-threads must be between 0 and {MaxPollThreads}";
        }

        if (WorkerMode is not (VirtioRing.Net.Engine.NetWorkerMode.Blocking or VirtioRing.Net.Engine.NetWorkerMode.BusyPoll))
        {
            return "--worker-mode must be blocking or busy-poll";
        }

        if (PollThreads > 0 && WorkerMode != VirtioRing.Net.Engine.NetWorkerMode.Blocking)
        {
            return "--worker-mode is for the per-pair workers; --poll-threads replaces them (give one or the other)";
        }

        if (Steering != VirtioRing.Net.Switching.NetSwitchSteering.Flow && Backend != DaemonBackend.Switch)
        {
            return "--steering is only used with --backend switch";
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string s in Sockets)
        {
            if (string.IsNullOrWhiteSpace(s))
            {
                return "--socket cannot be empty";
            }

            if (!seen.Add(s))
            {
                return $"--socket {s} is given twice";
            }
        }

        if (Backend == DaemonBackend.Nic)
        {
            if (Interfaces.Count != Sockets.Count)
            {
                return $"--backend nic needs one --interface per --socket, in the same order ({Sockets.Count} socket(s), {Interfaces.Count} interface(s))";
            }

            seen.Clear();
            foreach (string i in Interfaces)
            {
                if (string.IsNullOrWhiteSpace(i) || i.Length > 15 || i.Contains('/', StringComparison.Ordinal) || i.Contains(' ', StringComparison.Ordinal))
                {
                    return $"--interface \"{i}\" is not an interface name (1 to 15 characters, no '/' or space)";
                }

                if (!seen.Add(i))
                {
                    return $"--interface {i} is given twice: each device needs an interface of its own (several packet sockets on one interface would each see every frame)";
                }
            }
        }
        else if (Interfaces.Count > 0)
        {
            return "--interface is only used with --backend nic";
        }

        return null;
    }
}

/// <summary>Where the daemon's devices send their frames.</summary>
public enum DaemonBackend
{
    /// <summary>One switch: each socket is a guest port, guests on one daemon talk directly.</summary>
    Switch,

    /// <summary>One TAP device per socket (needs CAP_NET_ADMIN and /dev/net/tun).</summary>
    Tap,

    /// <summary>One network interface per socket through <c>AF_PACKET</c> sockets, one per queue pair in a fanout group (needs CAP_NET_RAW).</summary>
    Nic,
}
