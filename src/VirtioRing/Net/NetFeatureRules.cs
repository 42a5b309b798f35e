using System;

namespace VirtioRing.Net;

/// <summary>Which dependency rules a feature check enforces.</summary>
[Flags]
public enum NetFeatureRules
{
    /// <summary>No dependency rule (only accepted ⊆ offered).</summary>
    None = 0,

    /// <summary>
    /// The spec's requirements, virtio 1.3 §5.1.3.1 "Feature bit requirements" (a driver MUST NOT
    /// accept a feature without what it requires, §2.2.1), and <c>RING_PACKED</c> needs
    /// <c>VERSION_1</c> (packed rings exist only in the 1.1+ interface, §2.8).
    /// </summary>
    Required = 1 << 0,

    /// <summary>
    /// Rules that are SHOULDs in the spec or implied by it, which Linux's <c>virtnet_validate_features</c>
    /// also enforces: <c>HASH_REPORT</c> and <c>CTRL_RX_EXTRA</c> need <c>CTRL_VQ</c> (§5.1.4.2 driver
    /// requirements); <c>CTRL_GUEST_OFFLOADS</c> needs <c>CTRL_VQ</c> (its command travels on the control
    /// queue, §5.1.6.5 "Offloads State Configuration"); <c>CTRL_RX_EXTRA</c> needs <c>CTRL_RX</c> (its commands are in the RX class,
    /// §5.1.6.5.1 "Packet Receive Filtering").
    /// </summary>
    Recommended = 1 << 1,

    /// <summary>Both: what this library enforces unless told otherwise.</summary>
    Strict = Required | Recommended,
}
