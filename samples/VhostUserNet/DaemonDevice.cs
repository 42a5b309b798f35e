using System.Threading;
using VirtioRing.Linux;
using VirtioRing.Linux.Tap;
using VirtioRing.Net.Engine;
using VirtioRing.VhostUser.Backend;

namespace VhostUserNet;

/// <summary>One socket's device, its vhost-user backend and what they own.</summary>
public sealed class DaemonDevice
{
    internal DaemonDevice(string name, string socket, NetDevice device, VhostUserNetBackend backend, EpollWorkerSignalFactory signals, TapBackend? tap)
    {
        Name = name;
        Socket = socket;
        Device = device;
        Backend = backend;
        Signals = signals;
        Tap = tap;
    }

    /// <summary>Gets the device's name (<c>vu0</c>, <c>vu1</c>, …).</summary>
    public string Name { get; }

    /// <summary>Gets the vhost-user socket path.</summary>
    public string Socket { get; }

    /// <summary>Gets the virtio-net device.</summary>
    public NetDevice Device { get; }

    /// <summary>Gets the vhost-user backend serving <see cref="Device"/>.</summary>
    public VhostUserNetBackend Backend { get; }

    /// <summary>Gets the TAP backend, or null on the switch.</summary>
    public TapBackend? Tap { get; }

    internal EpollWorkerSignalFactory Signals { get; }

    internal Thread? Thread { get; set; }
}
