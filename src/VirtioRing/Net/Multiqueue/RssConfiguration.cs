using System;
using System.Collections.Generic;
using System.Threading;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// A validated receive-side-scaling configuration (virtio 1.2 §5.1.6.5.7): what
/// <c>VIRTIO_NET_CTRL_MQ_RSS_CONFIG</c> sets and the device applies to every received frame.
/// Queue numbers are receive-queue indices (0 = receiveq1), as the spec's <c>rss_rq_id</c> carries them.
/// Immutable: a new command replaces the whole object, so a receive path may read it without locks.
/// </summary>
public sealed class RssConfiguration
{
    /// <summary>Creates a configuration.</summary>
    /// <param name="hashTypes">The hash types to calculate.</param>
    /// <param name="key">The Toeplitz key (up to <c>rss_max_key_size</c> bytes; commonly 40).</param>
    /// <param name="indirectionTable">Receive-queue index per hash bucket; its length is a power of two.</param>
    /// <param name="unclassifiedQueue">The receive queue for frames no enabled hash type applies to.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">The table is empty or its length is not a power of two.</exception>
    public RssConfiguration(NetHashTypes hashTypes, ReadOnlyMemory<byte> key, IReadOnlyList<ushort> indirectionTable, ushort unclassifiedQueue)
    {
        if (indirectionTable is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(indirectionTable));
        }

        int n = indirectionTable.Count;
        if (n == 0 || (n & (n - 1)) != 0)
        {
            ThrowHelper.ThrowArgument(nameof(indirectionTable), "The indirection table length must be a power of two.");
        }

        var table = new ushort[n];
        for (int i = 0; i < n; i++)
        {
            table[i] = indirectionTable[i];
        }

        HashTypes = hashTypes;
        Key = key.ToArray();
        IndirectionTable = table;
        UnclassifiedQueue = unclassifiedQueue;
    }

    /// <summary>Gets the hash types to calculate.</summary>
    public NetHashTypes HashTypes { get; }

    /// <summary>Gets the Toeplitz key.</summary>
    public ReadOnlyMemory<byte> Key { get; }

    /// <summary>Gets the receive-queue index per hash bucket (length a power of two; bucket = hash &amp; (length − 1)).</summary>
    public IReadOnlyList<ushort> IndirectionTable { get; }

    /// <summary>Gets the receive queue for frames that no enabled hash type applies to.</summary>
    public ushort UnclassifiedQueue { get; }

    /// <summary>
    /// Gets the per-frame steering for this configuration: Toeplitz tables and indirection table built on first
    /// use, then shared by every receive path that reads this configuration.
    /// </summary>
    public RssSteering Steering => _steering ?? CreateSteering();

    private RssSteering? _steering;

    private RssSteering CreateSteering()
    {
        // Two threads may both build; one copy wins and both are equal, so no lock is needed.
        Interlocked.CompareExchange(ref _steering, new RssSteering(this), null);
        return _steering!;
    }
}
