using System;

namespace VirtioRing.VhostUser.Protocol;

/// <summary>The header's <c>flags</c> field (vhost-user "Header": version in bits 0–1, reply bit 2, need_reply bit 3).</summary>
[Flags]
public enum VhostUserHeaderFlags : uint
{
    /// <summary>No flag (and version 0, which is invalid).</summary>
    None = 0,

    /// <summary>Protocol version 1, the only version (bits 0–1 = 0x1).</summary>
    Version1 = 0x1,

    /// <summary>The mask of the version bits.</summary>
    VersionMask = 0x3,

    /// <summary>Set on every reply from the back-end (bit 2).</summary>
    Reply = 0x4,

    /// <summary>The front-end asks for a <c>REPLY_ACK</c> reply (bit 3).</summary>
    NeedReply = 0x8,
}
