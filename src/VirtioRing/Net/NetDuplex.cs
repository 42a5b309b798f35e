namespace VirtioRing.Net;

/// <summary>
/// The config space <c>duplex</c> field (virtio 1.3 §5.1.4, <c>SPEED_DUPLEX</c>). The values follow
/// the field's description (0x01 full, 0x00 half) and Linux's <c>DUPLEX_*</c>; the device-normative
/// paragraph of §5.1.4.1 has the two swapped; Linux drivers read 0x01 as full.
/// </summary>
#pragma warning disable CA1028 // the wire field is u8
public enum NetDuplex : byte
#pragma warning restore CA1028
{
    /// <summary>Half duplex.</summary>
    Half = 0x00,

    /// <summary>Full duplex.</summary>
    Full = 0x01,

    /// <summary>Unknown.</summary>
    Unknown = 0xFF,
}
