using System.Globalization;

namespace VirtioRing.TestKit;

/// <summary>
/// A packed ring event suppression structure (virtio 1.2 §2.8.10): <c>desc</c> (offset in bits
/// 0..14, wrap counter in bit 15) and <c>flags</c> (bits 0..1: ENABLE 0, DISABLE 1, DESC 2).
/// </summary>
/// <param name="OffWrap">The raw <c>desc</c> field.</param>
/// <param name="Flags">The raw <c>flags</c> field.</param>
public readonly record struct EventSuppression(ushort OffWrap, ushort Flags)
{
    /// <summary><c>RING_EVENT_FLAGS_ENABLE</c>: notify on every event.</summary>
    public const ushort Enable = 0;

    /// <summary><c>RING_EVENT_FLAGS_DISABLE</c>: do not notify.</summary>
    public const ushort Disable = 1;

    /// <summary><c>RING_EVENT_FLAGS_DESC</c>: notify when the descriptor at <see cref="Offset"/>/<see cref="WrapCounter"/> is reached (needs EVENT_IDX).</summary>
    public const ushort Desc = 2;

    /// <summary>Gets the descriptor offset (bits 0..14 of <c>desc</c>).</summary>
    public int Offset => OffWrap & 0x7fff;

    /// <summary>Gets the wrap counter (bit 15 of <c>desc</c>).</summary>
    public bool WrapCounter => (OffWrap & 0x8000) != 0;

    /// <summary>Gets the notification mode (bits 0..1 of <c>flags</c>).</summary>
    public int Mode => Flags & 3;

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"flags={Flags} off={Offset} wrap={(WrapCounter ? 1 : 0)}");
}
