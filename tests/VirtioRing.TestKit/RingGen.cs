using System;
using System.Collections.Generic;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using VirtioRing.Queues;

namespace VirtioRing.TestKit;

/// <summary>
/// FsCheck generators and shrinkers for ring tests: queue sizes per layout, every combination of
/// EVENT_IDX / INDIRECT_DESC / IN_ORDER, chain shapes, operation sequences for model-based tests,
/// and arbitrary ring contents for the device side.
/// </summary>
/// <remarks>
/// The parameterless <c>Arbitrary</c> methods register with <c>[Property(Arbitrary = new[] { typeof(RingGen) })]</c>.
/// The <c>Gen</c> methods take parameters (a layout, a configuration); combine them with
/// <c>Arb.From(gen, shrinker)</c> and <c>Prop.ForAll</c>.
/// </remarks>
public static class RingGen
{
    /// <summary>The longest chain the generators make.</summary>
    public const int MaxGeneratedSegments = 20;

    private static readonly VirtqueueFeatures[] FeatureCombinations = Enumerable.Range(0, 8).Select(i => (VirtqueueFeatures)i).ToArray();

    /// <summary>Gets all 8 combinations of <see cref="VirtqueueFeatures.IndirectDescriptors"/>, <see cref="VirtqueueFeatures.EventIndex"/> and <see cref="VirtqueueFeatures.InOrder"/>.</summary>
    public static IReadOnlyList<VirtqueueFeatures> AllFeatureSets => FeatureCombinations;

    /// <summary>Gets a generator of the 8 feature combinations, uniformly.</summary>
    public static Gen<VirtqueueFeatures> FeatureSet => Gen.Elements(FeatureCombinations);

    /// <summary>Gets a generator of both layouts.</summary>
    public static Gen<QueueKind> Kind => Gen.Elements(QueueKind.Split, QueueKind.Packed);

    /// <summary>Gets split queue sizes: powers of two, mostly small, sometimes 1024 or the maximum 32768.</summary>
    public static Gen<int> SplitSize => Gen.Frequency(
        (30, Gen.Elements(1, 2, 4, 8)),
        (40, Gen.Elements(16, 32, 64)),
        (25, Gen.Elements(128, 256)),
        (4, Gen.Constant(1024)),
        (1, Gen.Constant(32768)));

    /// <summary>Gets packed queue sizes: any value, mostly small, sometimes large or at the maximum.</summary>
    public static Gen<int> PackedSize => Gen.Frequency(
        (35, Gen.Choose(1, 8)),
        (35, Gen.Choose(9, 64)),
        (25, Gen.Choose(65, 300)),
        (4, Gen.Choose(301, 2000)),
        (1, Gen.Elements(32767, 32768)));

    /// <summary>Gets sizes for a layout.</summary>
    /// <param name="kind">The layout.</param>
    /// <returns>The generator.</returns>
    public static Gen<int> SizeFor(QueueKind kind) => kind == QueueKind.Split ? SplitSize : PackedSize;

    /// <summary>Gets small sizes for a layout (at most 16 or 17): for long runs such as index wrap-around.</summary>
    /// <param name="kind">The layout.</param>
    /// <returns>The generator.</returns>
    public static Gen<int> SmallSizeFor(QueueKind kind) => kind == QueueKind.Split ? Gen.Elements(1, 2, 4, 8, 16) : Gen.Choose(1, 17);

    /// <summary>Gets configurations of a layout: a size and a feature combination.</summary>
    /// <param name="kind">The layout.</param>
    /// <returns>The generator.</returns>
    public static Gen<QueueConfig> ConfigFor(QueueKind kind) =>
        from size in SizeFor(kind)
        from features in FeatureSet
        select new QueueConfig(kind, size, features);

    /// <summary>Gets segment lengths up to <paramref name="maxLength"/>: mostly short, rarely zero.</summary>
    /// <param name="maxLength">The longest.</param>
    /// <returns>The generator.</returns>
    public static Gen<uint> SegmentLength(int maxLength) => Gen.Frequency(
        (2, Gen.Constant(0)),
        (70, Gen.Choose(1, Math.Min(64, maxLength))),
        (28, Gen.Choose(1, maxLength))).Select(i => (uint)i);

    /// <summary>Gets chain shapes: 1..<paramref name="maxSegments"/> segments (mostly few), all readable, all writable, or mixed.</summary>
    /// <param name="maxSegments">The most segments.</param>
    /// <param name="maxLength">The longest segment.</param>
    /// <returns>The generator.</returns>
    public static Gen<ChainSpec> Chain(int maxSegments, int maxLength)
    {
        int max = Math.Max(1, maxSegments);
        Gen<int> count = Gen.Frequency(
            (50, Gen.Choose(1, Math.Min(3, max))),
            (35, Gen.Choose(1, Math.Min(8, max))),
            (15, Gen.Choose(1, max)));
        return from n in count
               from readable in Gen.Frequency((2, Gen.Constant(n)), (2, Gen.Constant(0)), (6, Gen.Choose(0, n)))
               from lengths in SegmentLength(maxLength).ArrayOf(n)
               select new ChainSpec(lengths.Take(readable), lengths.Skip(readable));
    }

    /// <summary>Gets one driver or device operation for a queue.</summary>
    /// <param name="config">The queue.</param>
    /// <returns>The generator.</returns>
    public static Gen<RingOp> Op(QueueConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        Gen<RingOp> add = Chain(Math.Min(config.MaxChainSegments, MaxGeneratedSegments), ModelRunner.SlotSize).Select(RingOp.Add);
        Gen<RingOp> push =
            from pick in Gen.Choose(0, 1000)
            from percent in Gen.Frequency((30, Gen.Constant(0)), (30, Gen.Constant(100)), (40, Gen.Choose(0, 100)))
            select RingOp.Push(pick, percent);
        return Gen.Frequency(
            (24, add),
            (9, Simple(RingOpKind.Publish)),
            (7, Simple(RingOpKind.Kick)),
            (14, Simple(RingOpKind.Reclaim)),
            (3, Simple(RingOpKind.EnableUsedNotifications)),
            (3, Simple(RingOpKind.DisableUsedNotifications)),
            (14, Simple(RingOpKind.Pop)),
            (14, push),
            (8, Simple(RingOpKind.PublishUsed)),
            (7, Simple(RingOpKind.Notify)),
            (3, Simple(RingOpKind.EnableNotifications)),
            (3, Simple(RingOpKind.DisableNotifications)));

        static Gen<RingOp> Simple(RingOpKind kind) => Gen.Constant(RingOp.Of(kind));
    }

    /// <summary>Gets operation sequences for a queue; their length grows with FsCheck's size (up to about 340).</summary>
    /// <param name="config">The queue.</param>
    /// <returns>The generator.</returns>
    public static Gen<RingOp[]> Ops(QueueConfig config) =>
        Gen.Sized(size => from n in Gen.Choose(1, 40 + (3 * size)) from ops in Op(config).ArrayOf(n) select ops);

    /// <summary>Gets model-based scenarios for a layout: a configuration, operations, a seed.</summary>
    /// <param name="kind">The layout.</param>
    /// <returns>The generator.</returns>
    public static Gen<ModelScenario> ScenarioFor(QueueKind kind) =>
        from config in ConfigFor(kind)
        from ops in Ops(config)
        from seed in Gen.Choose(0, int.MaxValue)
        select new ModelScenario(config, ops, seed);

    /// <summary>
    /// Gets arbitrary ring contents for a device queue of a layout: a third fully arbitrary (biased
    /// values everywhere), two thirds well-formed chains with a few fields overwritten by arbitrary
    /// values (so walks get deep before something breaks, or nothing breaks at all).
    /// </summary>
    /// <param name="kind">The layout.</param>
    /// <returns>The generator.</returns>
    public static Gen<HostileRingImage> HostileFor(QueueKind kind) =>
        Gen.Frequency((1, ArbitraryHostileFor(kind)), (2, MutatedHostileFor(kind)));

    /// <summary>Gets fully arbitrary ring contents (biased values in every field).</summary>
    /// <param name="kind">The layout.</param>
    /// <returns>The generator.</returns>
    public static Gen<HostileRingImage> ArbitraryHostileFor(QueueKind kind) =>
        from size in HostileSizeFor(kind)
               from features in FeatureSet
               from descriptors in RawDescriptorFor(kind, size, inRing: true).ArrayOf(size)
               from avail in Gen.Frequency((85, Gen.Choose(0, size - 1)), (15, UInt16)).Select(i => (ushort)i).ArrayOf(kind == QueueKind.Split ? size : 0)
               from availIdx in Gen.Frequency((60, Gen.Choose(0, size)), (15, Gen.Choose(size + 1, size + 4)), (10, Gen.Elements(65535, 65534, 32768)), (15, UInt16))
               from availFlags in Gen.Frequency((70, Gen.Choose(0, 1)), (30, UInt16))
               from eventOffWrap in Gen.Frequency((60, from o in Gen.Choose(0, size) from w in Gen.Elements(0, 0x8000) select o | w), (40, UInt16))
               from eventFlags in Gen.Frequency((45, Gen.Choose(0, 2)), (5, UInt16))
               from indirectCount in Gen.Frequency((30, Gen.Constant(0)), (70, Gen.Choose(1, 64)))
               from indirect in RawDescriptorFor(kind, size, inRing: false).ArrayOf(indirectCount)
               from fill in Gen.Choose(0, 255)
               select new HostileRingImage(new QueueConfig(kind, size, features), descriptors, avail, (ushort)availIdx, (ushort)availFlags,
                   (ushort)eventOffWrap, (ushort)eventFlags, indirect, (byte)fill);

    /// <summary>
    /// Gets well-formed rings (chains of direct buffers and indirect tables, made available as a
    /// driver would; indirect tables sometimes without the feature) with 0..3 fields then replaced
    /// by arbitrary values.
    /// </summary>
    /// <param name="kind">The layout.</param>
    /// <returns>The generator.</returns>
    public static Gen<HostileRingImage> MutatedHostileFor(QueueKind kind) =>
        from size in HostileSizeFor(kind)
        from features in FeatureSet
        from seed in Gen.Choose(0, int.MaxValue)
        select HostileRingBuilder.Build(new QueueConfig(kind, size, features), seed);

    private static Gen<int> HostileSizeFor(QueueKind kind) => kind == QueueKind.Split
        ? Gen.Frequency((90, Gen.Elements(1, 2, 4, 8, 16, 32, 64)), (10, Gen.Elements(128, 256)))
        : Gen.Frequency((90, Gen.Choose(1, 64)), (10, Gen.Choose(65, 256)));

    /// <summary>Gets arbitrary descriptors: addresses biased into memory, lengths biased to interesting values, flags biased to plausible ones (packed ring slots: mostly marked available for the first lap).</summary>
    /// <param name="kind">The layout.</param>
    /// <param name="size">The queue size.</param>
    /// <param name="inRing">Whether the descriptor sits in the ring (packed: AVAIL/USED bits matter) or in an indirect table.</param>
    /// <returns>The generator.</returns>
    public static Gen<RawDescriptor> RawDescriptorFor(QueueKind kind, int size, bool inRing)
    {
        Gen<AddressBias> bias = Gen.Frequency(
            (40, Gen.Constant(AddressBias.Buffer)),
            (20, Gen.Constant(AddressBias.Indirect)),
            (10, Gen.Constant(AddressBias.Ring)),
            (10, Gen.Constant(AddressBias.RegionEnd)),
            (5, Gen.Constant(AddressBias.Zero)),
            (15, Gen.Constant(AddressBias.Raw)));
        Gen<uint> length = Gen.Frequency(
            (30, Gen.Choose(0, 64).Select(i => (uint)i)),
            (15, Gen.Choose(0, 8).Select(i => (uint)i * 16)),
            (10, Gen.Choose(0, 4096).Select(i => (uint)i)),
            (8, Gen.Choose(4096, 20000).Select(i => (uint)i)),
            (5, Gen.Choose(0, 64).Select(i => uint.MaxValue - (uint)i)),
            (5, UInt32),
            (3, Gen.Choose(-16, 16).Select(i => (uint)(0x8000_0000L + i))));
        Gen<int> low =
            from next in Gen.Choose(0, 99)
            from write in Gen.Choose(0, 99)
            from indirect in Gen.Choose(0, 99)
            select (next < 45 ? 1 : 0) | (write < 40 ? 2 : 0) | (indirect < 12 ? 4 : 0);
        Gen<int> wrapBits = kind == QueueKind.Packed && inRing
            ? Gen.Frequency((75, Gen.Constant(0x0080)), (10, Gen.Constant(0x8000)), (8, Gen.Constant(0x8080)), (7, Gen.Constant(0)))
            : Gen.Constant(0);
        Gen<int> nextOrId = inRing
            ? Gen.Frequency((80, Gen.Choose(0, size - 1)), (10, Gen.Choose(size, size + 2)), (10, UInt16))
            : Gen.Frequency((85, Gen.Choose(0, 64)), (15, UInt16));
        return from b in bias
               from value in UInt64
               from len in length
               from l in low
               from wb in wrapBits
               from raw in Gen.Frequency((95, Gen.Constant(-1)), (5, UInt16))
               from n in nextOrId
               select new RawDescriptor(b, value, len, (ushort)(raw >= 0 ? raw : l | wb), (ushort)n);
    }

    // ------------------------------------------------------------------ registrations

    /// <summary>Chain shapes of up to 16 segments of up to 256 bytes.</summary>
    /// <returns>The arbitrary.</returns>
    public static Arbitrary<ChainSpec> ChainSpecs() => Arb.From(Chain(16, 256), ShrinkChain);

    /// <summary>The 8 feature combinations.</summary>
    /// <returns>The arbitrary.</returns>
    public static Arbitrary<VirtqueueFeatures> FeatureSets() => Arb.From(FeatureSet, ShrinkFeatures);

    /// <summary>Both layouts.</summary>
    /// <returns>The arbitrary.</returns>
    public static Arbitrary<QueueKind> QueueKinds() => Arb.From(Kind);

    /// <summary>Configurations of both layouts.</summary>
    /// <returns>The arbitrary.</returns>
    public static Arbitrary<QueueConfig> QueueConfigs() => Arb.From(Kind.SelectMany(ConfigFor), ShrinkConfig);

    /// <summary>Model-based scenarios of both layouts.</summary>
    /// <returns>The arbitrary.</returns>
    public static Arbitrary<ModelScenario> ModelScenarios() => Arb.From(Kind.SelectMany(ScenarioFor), ShrinkScenario);

    /// <summary>Arbitrary ring contents of both layouts.</summary>
    /// <returns>The arbitrary.</returns>
    public static Arbitrary<HostileRingImage> HostileRingImages() => Arb.From(Kind.SelectMany(HostileFor), ShrinkHostile);

    // ------------------------------------------------------------------ shrinkers

    /// <summary>Shrinks a chain: drops a segment, then shortens lengths.</summary>
    /// <param name="chain">The chain.</param>
    /// <returns>Simpler chains.</returns>
    public static IEnumerable<ChainSpec> ShrinkChain(ChainSpec chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        uint[] r = [.. chain.Readable];
        uint[] w = [.. chain.Writable];
        if (chain.SegmentCount > 1)
        {
            for (int i = 0; i < r.Length; i++)
            {
                yield return new ChainSpec(r.Take(i).Concat(r.Skip(i + 1)), w);
            }

            for (int i = 0; i < w.Length; i++)
            {
                yield return new ChainSpec(r, w.Take(i).Concat(w.Skip(i + 1)));
            }
        }

        for (int i = 0; i < chain.SegmentCount; i++)
        {
            uint len = chain.LengthAt(i);
            foreach (uint smaller in len > 1 ? new[] { 1u, len / 2 } : len == 1 ? new[] { 0u } : [])
            {
                uint[] r2 = [.. r];
                uint[] w2 = [.. w];
                if (i < r.Length)
                {
                    r2[i] = smaller;
                }
                else
                {
                    w2[i - r.Length] = smaller;
                }

                yield return new ChainSpec(r2, w2);
            }
        }
    }

    /// <summary>Shrinks a feature set by dropping one flag.</summary>
    /// <param name="features">The features.</param>
    /// <returns>Smaller sets.</returns>
    public static IEnumerable<VirtqueueFeatures> ShrinkFeatures(VirtqueueFeatures features)
    {
        foreach (VirtqueueFeatures f in new[] { VirtqueueFeatures.InOrder, VirtqueueFeatures.EventIndex, VirtqueueFeatures.IndirectDescriptors })
        {
            if (features.HasFlag(f))
            {
                yield return features & ~f;
            }
        }
    }

    /// <summary>Shrinks a configuration: a smaller valid size, then fewer features.</summary>
    /// <param name="config">The configuration.</param>
    /// <returns>Simpler configurations.</returns>
    public static IEnumerable<QueueConfig> ShrinkConfig(QueueConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Size > 1)
        {
            yield return config with { Size = config.Size / 2 };
            if (config.Kind == QueueKind.Packed && config.Size / 2 != config.Size - 1)
            {
                yield return config with { Size = config.Size - 1 };
            }
        }

        foreach (VirtqueueFeatures f in ShrinkFeatures(config.Features))
        {
            yield return config with { Features = f };
        }
    }

    /// <summary>Shrinks a scenario: removes runs of operations, simplifies operations, then the configuration (keeping every chain valid).</summary>
    /// <param name="scenario">The scenario.</param>
    /// <returns>Simpler scenarios.</returns>
    public static IEnumerable<ModelScenario> ShrinkScenario(ModelScenario scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        IReadOnlyList<RingOp> ops = scenario.Ops;
        for (int chunk = ops.Count / 2; chunk >= 1; chunk /= 2)
        {
            for (int start = 0; start + chunk <= ops.Count; start += chunk)
            {
                yield return scenario with { Ops = ops.Take(start).Concat(ops.Skip(start + chunk)).ToArray() };
            }
        }

        for (int i = 0; i < ops.Count; i++)
        {
            foreach (RingOp simpler in ShrinkOp(ops[i]))
            {
                RingOp[] copy = [.. ops];
                copy[i] = simpler;
                yield return scenario with { Ops = copy };
            }
        }

        foreach (QueueConfig c in ShrinkConfig(scenario.Config))
        {
            ModelScenario smaller = scenario with { Config = c };
            if (smaller.IsValid)
            {
                yield return smaller;
            }
        }
    }

    /// <summary>Shrinks arbitrary ring contents toward zeros.</summary>
    /// <param name="image">The contents.</param>
    /// <returns>Simpler contents.</returns>
    public static IEnumerable<HostileRingImage> ShrinkHostile(HostileRingImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.AvailIdx != 0)
        {
            yield return image with { AvailIdx = 0 };
            if (image.AvailIdx > 2)
            {
                yield return image with { AvailIdx = (ushort)(image.AvailIdx / 2) };
            }

            yield return image with { AvailIdx = (ushort)(image.AvailIdx - 1) };
        }

        if (image.IndirectArea.Count > 0)
        {
            yield return image with { IndirectArea = [] };
            yield return image with { IndirectArea = image.IndirectArea.Take(image.IndirectArea.Count / 2).ToArray() };
        }

        for (int i = 0; i < image.Descriptors.Count; i++)
        {
            if (image.Descriptors[i] != RawDescriptor.Zeroed)
            {
                RawDescriptor[] copy = [.. image.Descriptors];
                copy[i] = RawDescriptor.Zeroed;
                yield return image with { Descriptors = copy };
            }
        }

        for (int i = 0; i < image.IndirectArea.Count; i++)
        {
            if (image.IndirectArea[i] != RawDescriptor.Zeroed)
            {
                RawDescriptor[] copy = [.. image.IndirectArea];
                copy[i] = RawDescriptor.Zeroed;
                yield return image with { IndirectArea = copy };
            }
        }

        foreach (VirtqueueFeatures f in ShrinkFeatures(image.Config.Features))
        {
            yield return image with { Config = image.Config with { Features = f } };
        }
    }

    private static IEnumerable<RingOp> ShrinkOp(RingOp op)
    {
        if (op.Kind == RingOpKind.Add && op.Chain is not null)
        {
            foreach (ChainSpec c in ShrinkChain(op.Chain))
            {
                yield return op with { Chain = c };
            }
        }
        else if (op.Kind == RingOpKind.Push)
        {
            if (op.Pick != 0)
            {
                yield return op with { Pick = 0 };
            }

            if (op.WrittenPercent is not 0 and not 100)
            {
                yield return op with { WrittenPercent = 100 };
                yield return op with { WrittenPercent = 0 };
            }
        }
    }

    private static Gen<int> UInt16 => Gen.Choose(0, 65535);

    private static Gen<uint> UInt32 => from hi in Gen.Choose(0, 65535) from lo in Gen.Choose(0, 65535) select ((uint)hi << 16) | (uint)lo;

    private static Gen<ulong> UInt64 => from hi in UInt32 from lo in UInt32 select ((ulong)hi << 32) | lo;
}
