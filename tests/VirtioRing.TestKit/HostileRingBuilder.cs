using System;
using System.Collections.Generic;
using VirtioRing.Queues;

namespace VirtioRing.TestKit;

/// <summary>
/// Builds <see cref="HostileRingImage"/>s that start well-formed — chains of direct buffers in the
/// buffer region and indirect tables in the indirect region, made available as a driver would —
/// and then get a few fields overwritten with arbitrary values. Deterministic in the seed.
/// </summary>
public static class HostileRingBuilder
{
    private const int MaxIndirectEntries = 64;
    private const ushort Next = (ushort)DescriptorFlags.Next;
    private const ushort Write = (ushort)DescriptorFlags.DeviceWritable;
    private const ushort Indirect = (ushort)DescriptorFlags.Indirect;
    private const ushort AvailableFirstLap = (ushort)DescriptorFlags.Available;   // AVAIL=1, USED=0: available while the wrap counter is 1

    /// <summary>Builds a mutated well-formed ring.</summary>
    /// <param name="config">The queue.</param>
    /// <param name="seed">The seed.</param>
    /// <returns>The image.</returns>
    public static HostileRingImage Build(QueueConfig config, int seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        var random = new Random(seed);
        int size = config.Size;
        bool packed = config.Kind == QueueKind.Packed;
        var descriptors = new RawDescriptor[size];
        var indirect = new List<RawDescriptor>();
        var heads = new List<ushort>();
        int indirectPercent = config.Features.HasFlag(VirtqueueFeatures.IndirectDescriptors) ? 25 : 3;
        int[] order = new int[size];
        for (int i = 0; i < size; i++)
        {
            order[i] = i;
        }

        if (!packed)
        {
            random.Shuffle(order);   // split chains may use any free descriptors
        }

        int pos = 0;
        while (pos < size && random.Next(10) != 0)
        {
            ushort id = (ushort)heads.Count;
            int tableEntries = random.Next(1, 6);
            if (random.Next(100) < indirectPercent && indirect.Count + tableEntries <= MaxIndirectEntries)
            {
                int start = indirect.Count;
                int readable = random.Next(0, tableEntries + 1);
                for (int j = 0; j < tableEntries; j++)
                {
                    ushort flags = (ushort)((j + 1 < tableEntries ? Next : 0) | (j >= readable ? Write : 0));
                    indirect.Add(Buffer(random, flags, (ushort)(j + 1)));
                }

                ushort headFlags = (ushort)(Indirect | (packed ? AvailableFirstLap : 0));
                // Indirect bias with bits 40..41 set resolves 16-aligned at the table's start.
                descriptors[order[pos]] = new RawDescriptor(AddressBias.Indirect, (1UL << 40) | ((ulong)start * 16), (uint)tableEntries * 16, headFlags, packed ? id : (ushort)0);
                heads.Add((ushort)order[pos]);
                pos++;
                continue;
            }

            int n = random.Next(1, Math.Min(4, size - pos) + 1);
            int r = random.Next(0, n + 1);
            for (int j = 0; j < n; j++)
            {
                ushort flags = (ushort)((j + 1 < n ? Next : 0) | (j >= r ? Write : 0) | (packed ? AvailableFirstLap : 0));
                ushort nextOrId = packed ? id : (ushort)(j + 1 < n ? order[pos + j + 1] : 0);
                descriptors[order[pos + j]] = Buffer(random, flags, nextOrId);
            }

            heads.Add((ushort)order[pos]);
            pos += n;
        }

        for (int i = 0; i < size; i++)
        {
            if (descriptors[i] == default)
            {
                descriptors[i] = RawDescriptor.Zeroed;
            }
        }

        ushort[] avail = new ushort[packed ? 0 : size];
        for (int i = 0; i < avail.Length; i++)
        {
            avail[i] = i < heads.Count ? heads[i] : (ushort)random.Next(size);
        }

        ushort availIdx = (ushort)heads.Count;
        int mutations = random.Next(0, 4);
        for (int m = 0; m < mutations; m++)
        {
            Mutate(random, config, descriptors, indirect, avail, ref availIdx);
        }

        ushort eventOffWrap = (ushort)(random.Next(0, size + 1) | (random.Next(2) << 15));
        ushort eventFlags = (ushort)random.Next(0, 3);
        return new HostileRingImage(config, descriptors, avail, availIdx, (ushort)random.Next(2), eventOffWrap, eventFlags, indirect.ToArray(), (byte)random.Next(256));
    }

    private static RawDescriptor Buffer(Random random, ushort flags, ushort nextOrId)
    {
        const int region = HostileRingImage.BufferSlotSize * HostileRingImage.BufferSlots;
        uint length = (uint)random.Next(0, 65);
        ulong offset = (ulong)random.Next(0, region - 64);
        return new RawDescriptor(AddressBias.Buffer, offset, length, flags, nextOrId);
    }

    private static void Mutate(Random random, QueueConfig config, RawDescriptor[] descriptors, List<RawDescriptor> indirect, ushort[] avail, ref ushort availIdx)
    {
        int target = random.Next(10);
        if (target == 0 && avail.Length > 0)
        {
            if (random.Next(2) == 0)
            {
                avail[random.Next(avail.Length)] = (ushort)random.Next(0, config.Size + 3);
            }
            else
            {
                availIdx = (ushort)random.Next(0, config.Size + 3);
            }

            return;
        }

        bool inTable = target == 1 && indirect.Count > 0;
        int index = inTable ? random.Next(indirect.Count) : random.Next(descriptors.Length);
        RawDescriptor d = inTable ? indirect[index] : descriptors[index];
        d = random.Next(5) switch
        {
            0 => d with { Bias = (AddressBias)random.Next(6), Value = ((ulong)(uint)random.Next() << 33) ^ (ulong)random.Next() },
            1 => d with { Length = random.Next(4) switch { 0 => uint.MaxValue - (uint)random.Next(64), 1 => (uint)random.Next(0, 20000), 2 => (uint)random.Next(1, 8) * 16, _ => (uint)random.Next() } },
            2 => d with { Flags = (ushort)(d.Flags ^ (1 << random.Next(3))) },
            3 => d with { Flags = (ushort)(d.Flags ^ (random.Next(2) == 0 ? 0x0080 : 0x8000)) },
            _ => d with { NextOrId = (ushort)(random.Next(3) == 0 ? random.Next(65536) : random.Next(0, config.Size + 2)) },
        };
        if (inTable)
        {
            indirect[index] = d;
        }
        else
        {
            descriptors[index] = d;
        }
    }
}
