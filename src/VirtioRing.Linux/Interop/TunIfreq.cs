using System.Runtime.InteropServices;

namespace VirtioRing.Linux.Interop;

/// <summary>
/// <c>struct ifreq</c> (<c>net/if.h</c>) as the TUN ioctls use it: the interface name, then a union of
/// which only <c>ifr_flags</c> (a <c>short</c>) is used here. 40 bytes on 64-bit targets; the kernel
/// copies <c>sizeof(struct ifreq)</c> of its own target, never more than this.
/// </summary>
#pragma warning disable CS8981   // the C name, as Tmds.LibC names its structs (STYLE C9)
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct ifreq
{
    /// <summary>The interface name, NUL-terminated (<c>IFNAMSIZ</c> bytes); may hold a <c>%d</c> template on <c>TUNSETIFF</c>.</summary>
    [FieldOffset(0)]
    public fixed byte ifr_name[Tun.IFNAMSIZ];

    /// <summary>The flags (<c>IFF_TAP | IFF_NO_PI | ...</c> for <c>TUNSETIFF</c>, <c>IFF_ATTACH_QUEUE</c>/<c>IFF_DETACH_QUEUE</c> for <c>TUNSETQUEUE</c>).</summary>
    [FieldOffset(Tun.IFNAMSIZ)]
    public short ifr_flags;
}
#pragma warning restore CS8981
