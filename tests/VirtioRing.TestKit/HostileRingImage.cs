using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using VirtioRing.Memory;
using VirtioRing.Queues;

namespace VirtioRing.TestKit;

/// <summary>Where a generated descriptor address points, so arbitrary rings often reach real memory.</summary>
public enum AddressBias
{
    /// <summary>Somewhere in the buffer region.</summary>
    Buffer,

    /// <summary>Somewhere in the indirect-looking area (where <see cref="HostileRingImage.IndirectArea"/> is written).</summary>
    Indirect,

    /// <summary>Somewhere in the ring region (descriptors, rings).</summary>
    Ring,

    /// <summary>Just before the end of a region (so a length runs past it).</summary>
    RegionEnd,

    /// <summary>Address zero (unmapped).</summary>
    Zero,

    /// <summary>The raw 64-bit value.</summary>
    Raw,
}

/// <summary>A generated descriptor: an address (biased, resolved against the memory map), a length, raw flags, and next/id.</summary>
/// <param name="Bias">How <paramref name="Value"/> becomes an address.</param>
/// <param name="Value">The raw value behind the address.</param>
/// <param name="Length">len.</param>
/// <param name="Flags">Raw flags (packed: including AVAIL/USED).</param>
/// <param name="NextOrId">Split: next. Packed: buffer id.</param>
public readonly record struct RawDescriptor(AddressBias Bias, ulong Value, uint Length, ushort Flags, ushort NextOrId)
{
    /// <summary>Gets a descriptor that is all zeros (what shrinking aims for).</summary>
    public static RawDescriptor Zeroed => new(AddressBias.Zero, 0, 0, 0, 0);

    /// <summary>Resolves the address against a memory map.</summary>
    /// <param name="map">The map.</param>
    /// <param name="indirectEntries">How many descriptors the indirect-looking area holds.</param>
    /// <returns>The guest address.</returns>
    public ulong ResolveAddress(QueueMemoryMap map, int indirectEntries)
    {
        ArgumentNullException.ThrowIfNull(map);
        bool aligned = ((Value >> 40) & 3) != 0;
        switch (Bias)
        {
            case AddressBias.Buffer:
                return QueueMemoryMap.BufferRegionStart + (Value % map.BufferRegionSize);
            case AddressBias.Indirect:
                ulong off = Value % (ulong)((indirectEntries * Descriptor.Size) + 32);
                return QueueMemoryMap.IndirectRegionStart + (aligned ? off & ~15UL : off);
            case AddressBias.Ring:
                ulong r = Value % map.RingRegionSize;
                return QueueMemoryMap.RingRegionStart + (aligned ? r & ~15UL : r);
            case AddressBias.RegionEnd:
                ulong back = (Value >> 8) % 80;
                ulong end = (Value % 3) switch
                {
                    0 => QueueMemoryMap.BufferRegionStart + map.BufferRegionSize,
                    1 => QueueMemoryMap.IndirectRegionStart + map.IndirectRegionSize,
                    _ => QueueMemoryMap.RingRegionStart + map.RingRegionSize,
                };
                return end - back;
            case AddressBias.Zero:
                return 0;
            default:
                return Value;
        }
    }

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Bias}:{Value:x} len={Length} flags={Flags:x} n={NextOrId}");
}

/// <summary>
/// Arbitrary driver-owned ring contents for a device queue: every descriptor of the table (split) or
/// ring (packed), the available ring and index, the driver's event field, and an indirect-looking area.
/// </summary>
/// <param name="Config">The queue (the driver's indirect limit is unused).</param>
/// <param name="Descriptors">Exactly Size descriptors.</param>
/// <param name="AvailRing">Split: exactly Size entries. Packed: unused.</param>
/// <param name="AvailIdx">Split: <c>avail.idx</c>.</param>
/// <param name="AvailFlags">Split: <c>avail.flags</c>.</param>
/// <param name="EventOffWrap">Split: <c>used_event</c>. Packed: the driver event suppression <c>desc</c> field.</param>
/// <param name="EventFlags">Packed: the driver event suppression <c>flags</c> field.</param>
/// <param name="IndirectArea">Descriptors written at the start of the indirect region.</param>
/// <param name="FillByte">The byte the device writes into the writable buffers of popped chains.</param>
public sealed record HostileRingImage(
    QueueConfig Config,
    IReadOnlyList<RawDescriptor> Descriptors,
    IReadOnlyList<ushort> AvailRing,
    ushort AvailIdx,
    ushort AvailFlags,
    ushort EventOffWrap,
    ushort EventFlags,
    IReadOnlyList<RawDescriptor> IndirectArea,
    byte FillByte)
{
    /// <summary>The buffer slot size of the device-only pair the image is written into.</summary>
    public const int BufferSlotSize = 4096;

    /// <summary>The number of buffer slots of that pair.</summary>
    public const int BufferSlots = 4;

    /// <summary>Creates the device-only pair the image is meant for.</summary>
    /// <returns>The pair (no driver).</returns>
    public QueuePair CreatePair() => QueuePairFactory.CreateDeviceOnly(Config, BufferSlotSize, BufferSlots);

    /// <summary>Writes the image into the pair's memory.</summary>
    /// <param name="pair">A pair made by <see cref="CreatePair"/>.</param>
    public void WriteTo(QueuePair pair)
    {
        ArgumentNullException.ThrowIfNull(pair);
        HostileRingWriter w = pair.Writer;
        QueueMemoryMap map = pair.Map;
        var indirect = new Descriptor[IndirectArea.Count];
        for (int i = 0; i < indirect.Length; i++)
        {
            indirect[i] = Resolve(IndirectArea[i], map);
        }

        w.WriteIndirectTable(new GuestAddress(QueueMemoryMap.IndirectRegionStart), indirect);
        if (Config.Kind == QueueKind.Split)
        {
            for (int i = 0; i < Config.Size; i++)
            {
                w.WriteSplitDescriptor(i, Resolve(Descriptors[i], map));
                w.WriteAvailEntry(i, AvailRing[i]);
            }

            w.WriteAvailFlags(AvailFlags);
            w.WriteUsedEvent(EventOffWrap);
            w.WriteAvailIdx(AvailIdx);
        }
        else
        {
            for (int i = 0; i < Config.Size; i++)
            {
                w.WritePackedDescriptor(i, Resolve(Descriptors[i], map));
            }

            w.WriteDriverEventSuppression(EventOffWrap, EventFlags);
        }
    }

    /// <inheritdoc/>
    public bool Equals(HostileRingImage? other) =>
        other is not null && Config == other.Config && AvailIdx == other.AvailIdx && AvailFlags == other.AvailFlags
        && EventOffWrap == other.EventOffWrap && EventFlags == other.EventFlags && FillByte == other.FillByte
        && Descriptors.SequenceEqual(other.Descriptors) && AvailRing.SequenceEqual(other.AvailRing) && IndirectArea.SequenceEqual(other.IndirectArea);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Config, AvailIdx, Descriptors.Count, IndirectArea.Count);

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Config} availIdx={AvailIdx} availFlags={AvailFlags:x} event={EventOffWrap:x}/{EventFlags:x} fill={FillByte:x} desc=[{string.Join(", ", Descriptors)}] avail=[{string.Join(",", AvailRing)}] indirect=[{string.Join(", ", IndirectArea)}]");

    private Descriptor Resolve(RawDescriptor d, QueueMemoryMap map) =>
        new(new GuestAddress(d.ResolveAddress(map, IndirectArea.Count)), d.Length, (DescriptorFlags)d.Flags, d.NextOrId);
}
