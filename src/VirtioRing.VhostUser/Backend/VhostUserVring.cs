using System.Diagnostics;
using VirtioRing.Linux;
using VirtioRing.Queues;
using VirtioRing.VhostUser.Protocol;

namespace VirtioRing.VhostUser.Backend;

/// <summary>What the front-end told the back-end about one vring, and the device queue built from it once started.</summary>
[DebuggerDisplay("vring {Index}: num {Num}, started {Started}, enabled {Enabled}")]
internal sealed class VhostUserVring(int index)
{
    public int Index { get; } = index;

    /// <summary>The size from <c>SET_VRING_NUM</c>, or 0.</summary>
    public int Num { get; set; }

    /// <summary>The addresses from <c>SET_VRING_ADDR</c>, or null.</summary>
    public VhostUserVringAddress? Address { get; set; }

    /// <summary>The raw <c>SET_VRING_BASE</c> value (or the last <c>GET_VRING_BASE</c> answer).</summary>
    public uint Base { get; set; }

    public EventFd? Kick { get; set; }

    /// <summary>Whether the kick fd is watched (by <see cref="KickSignal"/>).</summary>
    public EpollWorkerSignal? KickSignal { get; set; }

    public CallNotifier Call { get; } = new();

    public EventFd? Err { get; set; }

    /// <summary>The <c>SET_VRING_ENABLE</c> flag.</summary>
    public bool EnableFlag { get; set; }

    /// <summary>Whether the ring is started (it has a device queue, bound to the device).</summary>
    public bool Started => Queue is not null;

    /// <summary>Whether the device should use it: started, and enabled (explicitly, or implicitly without protocol features).</summary>
    public bool Enabled { get; set; }

    /// <summary>The guest-physical addresses of the three ring areas while started (descriptor, driver, device area).</summary>
    public (ulong Descriptor, ulong Driver, ulong Device) Areas { get; set; }

    /// <summary>The device queue while started.</summary>
    public IDeviceQueue? Queue { get; set; }

    /// <summary>The queue currently bound to the device (what <see cref="Queue"/> was when the device was last told).</summary>
    public IDeviceQueue? Bound { get; set; }
}
