using VirtioRing.Net;
using System.Diagnostics;
using VirtioRing.Net.Multiqueue;

namespace VirtioRing.Net.Control;

/// <summary>
/// What the device offered in its config space (virtio 1.2 §5.1.4) and what it keeps, which the
/// control-queue handler checks commands against. Set once, before the handler is created.
/// </summary>
[DebuggerDisplay("pairs={MaxQueuePairs} key={RssMaxKeySize} table={RssMaxIndirectionTableLength}")]
public sealed class NetControlLimits
{
    /// <summary>The largest <c>max_virtqueue_pairs</c> the spec allows (<c>VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX</c>, §5.1.6.5.6).</summary>
    public const int MaxQueuePairsLimit = 0x8000;

    /// <summary>Gets the config-space <c>mac</c>: the primary address after reset.</summary>
    public MacAddress Mac { get; init; }

    /// <summary>Gets <c>max_virtqueue_pairs</c> (1..0x8000); 1 when neither MQ nor RSS is offered.</summary>
    public int MaxQueuePairs { get; init; } = 1;

    /// <summary>Gets <c>rss_max_key_size</c> (the spec requires at least 40 when RSS or HASH_REPORT is offered).</summary>
    public int RssMaxKeySize { get; init; } = 40;

    /// <summary>Gets <c>rss_max_indirection_table_length</c> (at least 128 when RSS is offered).</summary>
    public int RssMaxIndirectionTableLength { get; init; } = 128;

    /// <summary>Gets <c>supported_hash_types</c>.</summary>
    public NetHashTypes SupportedHashTypes { get; init; }

    /// <summary>
    /// Gets how many addresses each MAC filter table keeps (QEMU keeps 64 in all); a longer table
    /// turns into "accept every address of that kind" (<see cref="MacFilterTable.IsOverflow"/>).
    /// </summary>
    public int MaxMacTableEntries { get; init; } = 64;

    /// <summary>Throws when a limit is outside what the spec allows.</summary>
    internal void Validate()
    {
        if (MaxQueuePairs < 1 || MaxQueuePairs > MaxQueuePairsLimit)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(MaxQueuePairs), "max_virtqueue_pairs is 1..0x8000 (§5.1.4).");
        }

        if (RssMaxKeySize < 0 || RssMaxKeySize > byte.MaxValue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(RssMaxKeySize), "rss_max_key_size is a u8.");
        }

        if (RssMaxIndirectionTableLength < 1 || RssMaxIndirectionTableLength > ushort.MaxValue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(RssMaxIndirectionTableLength), "rss_max_indirection_table_length is a non-zero le16.");
        }

        if (MaxMacTableEntries < 0 || MaxMacTableEntries > 4096)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(MaxMacTableEntries), "Keep 0..4096 addresses per MAC table.");
        }
    }
}
