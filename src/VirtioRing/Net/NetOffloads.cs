using System;

namespace VirtioRing.Net;

/// <summary>
/// The offloads a network backend (TAP, packet socket, peer-guest port, loopback) can carry, in
/// both directions: frames it accepts from the guest with the offload still to do (the device's
/// <c>HOST_*</c> features) and frames it delivers to the guest with the offload left undone (the
/// driver's <c>GUEST_*</c> features). <see cref="NetFeatureNegotiation.RestrictToBackend"/> drops
/// every offered feature the backend cannot carry. An engine that completes an offload in software
/// ORs that flag in before restricting.
/// </summary>
[Flags]
public enum NetOffloads
{
    /// <summary>No offload: every frame is complete (checksummed, MTU-sized).</summary>
    None = 0,

    /// <summary>Partial checksums (<c>NEEDS_CSUM</c>, <c>DATA_VALID</c>): <c>CSUM</c>, <c>GUEST_CSUM</c>.</summary>
    Checksum = 1 << 0,

    /// <summary>TCP over IPv4 segmentation: <c>HOST_TSO4</c>, <c>GUEST_TSO4</c>.</summary>
    Tso4 = 1 << 1,

    /// <summary>TCP over IPv6 segmentation: <c>HOST_TSO6</c>, <c>GUEST_TSO6</c>.</summary>
    Tso6 = 1 << 2,

    /// <summary>UDP fragmentation: <c>HOST_UFO</c>, <c>GUEST_UFO</c>.</summary>
    Ufo = 1 << 3,

    /// <summary>UDP over IPv4 segmentation: <c>GUEST_USO4</c>; with <see cref="Uso6"/>, <c>HOST_USO</c> (one bit for both families).</summary>
    Uso4 = 1 << 4,

    /// <summary>UDP over IPv6 segmentation: <c>GUEST_USO6</c>; with <see cref="Uso4"/>, <c>HOST_USO</c>.</summary>
    Uso6 = 1 << 5,

    /// <summary>TCP segmentation with the ECN bit (<c>HOST_ECN</c>, <c>GUEST_ECN</c>).</summary>
    Ecn = 1 << 6,

    /// <summary>A per-frame hash in the 20-byte header (<c>HASH_REPORT</c>).</summary>
    HashReport = 1 << 7,

    /// <summary>Every offload above.</summary>
    All = Checksum | Tso4 | Tso6 | Ufo | Uso4 | Uso6 | Ecn | HashReport,
}
