using System;
using System.Diagnostics;

namespace VirtioRing.Net.Multiqueue;

/// <summary>
/// Receive-side scaling as a device applies it to every received frame (virtio 1.2 §5.1.6.5.7.3, "RSS
/// processing"): hash the frame (§5.1.6.4.3); if no hash was calculated, the unclassified queue; otherwise the
/// indirection table entry at <c>hash &amp; indirection_table_mask</c>.
/// </summary>
/// <remarks>
/// Built once per <see cref="RssConfiguration"/> (see <see cref="RssConfiguration.Steering"/>): the Toeplitz
/// tables and a flat copy of the indirection table are made here, so <see cref="Steer"/> allocates nothing and
/// makes no interface calls. Immutable and thread-safe. The spec's last step — drop the frame if the chosen
/// queue is being reset — is the engine's, which knows the queues' state; so is checking that the table names
/// only enabled receive queues (a driver requirement of §5.1.6.5.7.2), which the control-queue handler validates.
/// </remarks>
[DebuggerDisplay("RSS {Configuration.HashTypes}, {_table.Length} buckets")]
public sealed class RssSteering
{
    private readonly ushort[] _table;
    private readonly uint _mask;
    private readonly ushort _unclassified;

    /// <summary>Builds the steering for <paramref name="configuration"/>.</summary>
    /// <param name="configuration">The RSS configuration.</param>
    /// <exception cref="ArgumentNullException"><paramref name="configuration"/> is null.</exception>
    public RssSteering(RssConfiguration configuration)
    {
        if (configuration is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(configuration));
        }

        Configuration = configuration;
        HashCalculator = new NetHashCalculator(configuration.HashTypes, configuration.Key.Span);
        int n = configuration.IndirectionTable.Count;
        _table = new ushort[n];
        for (int i = 0; i < n; i++)
        {
            _table[i] = configuration.IndirectionTable[i];
        }

        _mask = (uint)(n - 1);   // RssConfiguration guarantees a power of two (§5.1.6.5.7.2)
        _unclassified = configuration.UnclassifiedQueue;
    }

    /// <summary>Gets the configuration this steering applies.</summary>
    public RssConfiguration Configuration { get; }

    /// <summary>Gets the hash calculator (the configuration's hash types and key).</summary>
    public NetHashCalculator HashCalculator { get; }

    /// <summary>Hashes <paramref name="frame"/> and picks its receive queue.</summary>
    /// <param name="frame">A received Ethernet frame (without the virtio-net header); may be hostile.</param>
    /// <returns>The receive queue and the hash (for <c>VIRTIO_NET_F_HASH_REPORT</c>).</returns>
    public RssDecision Steer(ReadOnlySpan<byte> frame)
    {
        NetHashResult hash = HashCalculator.Calculate(frame);
        return new RssDecision(SelectReceiveQueue(hash), hash);
    }

    /// <summary>The receive queue for an already calculated hash.</summary>
    /// <param name="hash">The hash of the frame.</param>
    /// <returns>The unclassified queue when no hash was calculated, else the indirection table entry of <c>hash &amp; mask</c>.</returns>
    public ushort SelectReceiveQueue(NetHashResult hash) =>
        hash.IsCalculated ? _table[hash.Value & _mask] : _unclassified;
}
