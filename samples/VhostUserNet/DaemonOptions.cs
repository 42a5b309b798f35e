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
    /// <summary>
    /// Gets a value indicating whether devices with more than one queue pair offer <c>CONFIGURE_MEM_SLOTS</c>
    /// (off by default: QEMU adds the same region once per queue pair, see <see cref="VhostUserDaemon"/>).
    /// </summary>
    public bool MemorySlotsWithMultiqueue { get; init; }
}

/// <summary>Where the daemon's devices send their frames.</summary>
public enum DaemonBackend
{
    /// <summary>One switch: each socket is a guest port, guests on one daemon talk directly.</summary>
    Switch,

    /// <summary>One TAP device per socket (needs CAP_NET_ADMIN and /dev/net/tun).</summary>
    Tap,
}
