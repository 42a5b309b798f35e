using System;

namespace VirtioRing.Queues;

/// <summary>
/// The device-private position of a queue, to save and restore (vhost-user <c>GET/SET_VRING_BASE</c>,
/// live migration). Split rings use the indices only; packed rings also use the wrap counters.
/// </summary>
/// <param name="NextAvail">Split: the next available-ring index to read (<c>last_avail_idx</c>). Packed: the next descriptor slot to read.</param>
/// <param name="NextUsed">Split: the next used-ring index to write. Packed: the next descriptor slot to write as used.</param>
/// <param name="AvailWrapCounter">Packed: the driver ring wrap counter the device expects next.</param>
/// <param name="UsedWrapCounter">Packed: the device ring wrap counter the device writes next.</param>
public readonly record struct QueueState(ushort NextAvail, ushort NextUsed, bool AvailWrapCounter = true, bool UsedWrapCounter = true)
{
    /// <summary>
    /// Encodes the avail position as vhost-user's <c>SET_VRING_BASE</c> number: the index, and for
    /// packed rings the wrap counter in bit 15.
    /// </summary>
    /// <param name="packed">Whether the ring is packed.</param>
    /// <returns>The encoded value.</returns>
    public uint EncodeAvailBase(bool packed) =>
        packed ? (uint)(NextAvail & 0x7fff) | (AvailWrapCounter ? 0x8000u : 0u) : NextAvail;

    /// <summary>Decodes vhost-user's <c>SET_VRING_BASE</c> number (packed rings: bit 15 is the wrap counter).</summary>
    /// <param name="value">The encoded value.</param>
    /// <param name="packed">Whether the ring is packed.</param>
    /// <returns>A state whose used position equals its avail position.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The value does not fit 16 bits.</exception>
    public static QueueState DecodeAvailBase(uint value, bool packed)
    {
        if (value > ushort.MaxValue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(value), "A ring base is a 16-bit value.");
        }

        if (!packed)
        {
            return new QueueState((ushort)value, (ushort)value);
        }

        ushort index = (ushort)(value & 0x7fff);
        bool wrap = (value & 0x8000) != 0;
        return new QueueState(index, index, wrap, wrap);
    }
}
