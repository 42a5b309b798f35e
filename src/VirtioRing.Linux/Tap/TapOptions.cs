using System;
using System.Diagnostics;
using System.Text;
using VirtioRing.Linux.Interop;
using VirtioRing.Net;

namespace VirtioRing.Linux.Tap;

/// <summary>
/// How <see cref="TapDevice.Open"/> (and <see cref="TapBackend.Create"/>) opens a TAP device: its
/// name, its queues, and whether it is created, kept after the last close, or only attached to.
/// </summary>
/// <remarks>
/// The device is always opened with <c>IFF_TAP | IFF_NO_PI | IFF_VNET_HDR</c> (Ethernet frames, no
/// packet-information prefix, a virtio-net header before every frame) and non-blocking descriptors.
/// It is created in the network namespace of the thread that opens it; it keeps working when it is
/// moved to another one afterwards (<c>ip link set NAME netns NS</c>).
/// </remarks>
[DebuggerDisplay("TAP {Name ?? \"(kernel-chosen)\",nq}, {Queues} queue(s)")]
public sealed class TapOptions
{
    /// <summary>The name template used when <see cref="Name"/> is <see langword="null"/>: the kernel picks the first free number.</summary>
    public const string DefaultNameTemplate = "vrtap%d";

    /// <summary>
    /// Gets the interface name (at most 15 bytes; no <c>/</c>, <c>:</c> or white space), a template
    /// with one <c>%d</c> that the kernel replaces with the first free number, or
    /// <see langword="null"/> for <see cref="DefaultNameTemplate"/>. The name actually used is
    /// <see cref="TapDevice.Name"/>.
    /// </summary>
    public string? Name { get; init; }

    /// <summary>
    /// Gets the number of queues: one descriptor each, 1 to 256. More than one opens the device with
    /// <c>IFF_MULTI_QUEUE</c> (the kernel spreads received flows over the queues); use one queue per
    /// queue pair of the guest.
    /// </summary>
    public int Queues { get; init; } = 1;

    /// <summary>
    /// Gets whether the device is opened with <c>IFF_MULTI_QUEUE</c> even with one queue (to attach to
    /// an existing multi-queue TAP, whose flag must match). Always on when <see cref="Queues"/> is above 1.
    /// </summary>
    public bool MultiQueue { get; init; }

    /// <summary>
    /// Gets whether the device is made persistent (<c>TUNSETPERSIST</c>): it stays when its last
    /// descriptor closes, until <see cref="TapDevice.SetPersistent"/> clears it or it is deleted
    /// (<c>ip link del</c>). <see langword="false"/> leaves an existing device's persistence as it is;
    /// a device this call creates then goes away with its last descriptor.
    /// </summary>
    public bool Persistent { get; init; }

    /// <summary>
    /// Gets whether a device of that name is created when none exists (the default). With
    /// <see langword="false"/> the open attaches to an existing device only and fails with
    /// <see cref="InvalidOperationException"/> when there is none (a <see cref="Name"/> is then required).
    /// </summary>
    public bool CreateIfMissing { get; init; } = true;

    /// <summary>
    /// Gets the offloads the backend offers the guest, in both directions (restricted to what this
    /// kernel's TAP supports, see <see cref="TapDevice.SupportedOffloads"/>): checksum offload, TSO
    /// for IPv4 and IPv6 with ECN, UFO, USO. <see cref="NetOffloads.HashReport"/> is never carried.
    /// <see cref="NetOffloads.None"/> makes every frame complete in both directions (the engine
    /// segments and checksums transmitted frames in software; the kernel does it for received ones).
    /// </summary>
    public NetOffloads Offloads { get; init; } = NetOffloads.All & ~NetOffloads.HashReport;

    /// <summary>
    /// Gets the socket send buffer of each queue in bytes (<c>TUNSETSNDBUF</c>), or <see langword="null"/>
    /// to keep the kernel's default (unlimited: a write never waits). A limit makes a write answer
    /// <c>EAGAIN</c> while the kernel still holds that many bytes of earlier frames, which the backend
    /// turns into flow control (<see cref="VirtioRing.Net.Backends.NetTransmitStatus.Busy"/>).
    /// </summary>
    public int? SendBufferSize { get; init; }

    /// <summary>Gets whether the device is opened with <c>IFF_MULTI_QUEUE</c>.</summary>
    internal bool EffectiveMultiQueue => MultiQueue || Queues > 1;

    /// <summary>Gets the name passed to <c>TUNSETIFF</c>.</summary>
    internal string EffectiveName => Name ?? DefaultNameTemplate;

    /// <summary>Checks every option (caller errors become exceptions naming the option).</summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    internal void Validate()
    {
        if (Queues is < 1 or > Tun.MAX_TAP_QUEUES)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(Queues), $"Queues must be 1 to {Tun.MAX_TAP_QUEUES} (got {Queues}).");
        }

        if (SendBufferSize is <= 0)
        {
            LinuxThrowHelper.ThrowArgumentOutOfRange(nameof(SendBufferSize), $"SendBufferSize must be positive or null (got {SendBufferSize}).");
        }

        if (Name is null)
        {
            if (!CreateIfMissing)
            {
                LinuxThrowHelper.ThrowArgument(nameof(Name), "A Name is required to attach to an existing TAP (CreateIfMissing is false).");
            }

            return;
        }

        string? problem = CheckName(Name, allowTemplate: CreateIfMissing);
        if (problem is not null)
        {
            LinuxThrowHelper.ThrowArgument(nameof(Name), $"The TAP name \"{Name}\" is invalid: {problem}.");
        }
    }

    /// <summary>The kernel's rules for an interface name (<c>dev_valid_name</c>), plus at most one <c>%d</c> template when creating.</summary>
    /// <returns>What is wrong, or <see langword="null"/>.</returns>
    internal static string? CheckName(string name, bool allowTemplate)
    {
        if (name.Length == 0)
        {
            return "it is empty";
        }

        if (name is "." or "..")
        {
            return "\".\" and \"..\" are not interface names";
        }

        if (Encoding.UTF8.GetByteCount(name) >= Tun.IFNAMSIZ)
        {
            return $"it is longer than {Tun.IFNAMSIZ - 1} bytes";
        }

        int percent = 0;
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (c == '/' || c == ':' || char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return "it contains '/', ':', white space or a control character";
            }

            if (c == '%')
            {
                if (i + 1 >= name.Length || name[i + 1] != 'd')
                {
                    return "'%' may only appear as the template \"%d\"";
                }

                percent++;
            }
        }

        if (percent > 1)
        {
            return "it has more than one \"%d\"";
        }

        if (percent == 1 && !allowTemplate)
        {
            return "a \"%d\" template can only create a device, not name an existing one";
        }

        return null;
    }
}
