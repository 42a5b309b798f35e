using System;
using System.Collections.Generic;
using System.Globalization;
using VirtioRing.Memory;
using VirtioRing.Queues;

namespace VirtioRing.TestKit;

/// <summary>
/// Applies driver and device operations to a real queue pair and to a <see cref="QueueModel"/>
/// side by side, and throws <see cref="ModelMismatchException"/> at the first difference: a wrong
/// pop or reclaim, a wrong token, length or byte, a leaked descriptor, a notification decision the
/// spec forbids, a lost wake-up, a broken queue, an exception, or a write outside the regions.
/// </summary>
public sealed class ModelRunner : IDisposable
{
    /// <summary>The buffer slot size: the longest segment a chain may have.</summary>
    public const int SlotSize = 256;

    /// <summary>The byte that fills every buffer byte nobody should have written.</summary>
    public const byte Poison = 0xEE;

    private const int MaxBufferSlots = 4096;

    private readonly Random _random;
    private readonly List<DescriptorChain> _heldChains = [];
    private int _step = -1;
    private RingOp? _op;

    /// <summary>Creates the pair and the model.</summary>
    /// <param name="config">The queue.</param>
    /// <param name="seed">Seeds the bytes written by both sides.</param>
    public ModelRunner(QueueConfig config, int seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        long perDescriptor = config.UsesIndirectTables ? Math.Min(config.MaxChainSegments, 20) : 1;
        int slots = (int)Math.Min(MaxBufferSlots, (config.Size * perDescriptor) + 8);
        Pair = QueuePairFactory.Create(config, SlotSize, slots);
        Pair.Memory.GetSpan(new GuestAddress(QueueMemoryMap.BufferRegionStart), (ulong)SlotSize * (ulong)slots).Fill(Poison);
        Model = new QueueModel(config);
        _random = new Random(seed);
    }

    /// <summary>Gets the queue pair.</summary>
    public QueuePair Pair { get; }

    /// <summary>Gets the model.</summary>
    public QueueModel Model { get; }

    /// <summary>Gets what the run exercised so far (to judge a generator's coverage).</summary>
    public RunnerStatistics Statistics { get; } = new();

    private IDriverQueue Driver => Pair.Driver;

    private IDeviceQueue Device => Pair.Device;

    /// <summary>Runs a scenario: every op, then a drain, then the leak and guard checks.</summary>
    /// <param name="scenario">The scenario.</param>
    /// <exception cref="ModelMismatchException">The queues and the model differ.</exception>
    public static void Run(ModelScenario scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        using var runner = new ModelRunner(scenario.Config, scenario.Seed);
        foreach (RingOp op in scenario.Ops)
        {
            runner.Apply(op);
        }

        runner.DrainAndVerify();
    }

    /// <summary>Applies one op to both the queues and the model, then checks the counters.</summary>
    /// <param name="op">The op.</param>
    /// <exception cref="ModelMismatchException">The queues and the model differ.</exception>
    public void Apply(RingOp op)
    {
        ArgumentNullException.ThrowIfNull(op);
        _step++;
        _op = op;
        try
        {
            switch (op.Kind)
            {
                case RingOpKind.Add: Add(op.Chain ?? throw new ArgumentException("Add needs a chain.", nameof(op))); break;
                case RingOpKind.Publish: Check(Driver.PublishAvailable() == Model.Publish(), "PublishAvailable returned a wrong count"); break;
                case RingOpKind.Kick: Kick(); break;
                case RingOpKind.Reclaim: Reclaim(); break;
                case RingOpKind.EnableUsedNotifications: CheckNull(Model.DriverEnabledNotifications(Driver.EnableUsedNotifications())); break;
                case RingOpKind.DisableUsedNotifications: Driver.DisableUsedNotifications(); Model.DriverDisabledNotifications(); break;
                case RingOpKind.Pop: Pop(); break;
                case RingOpKind.Push: Push(op.Pick, op.WrittenPercent); break;
                case RingOpKind.PublishUsed: PublishUsed(); break;
                case RingOpKind.Notify: Notify(); break;
                case RingOpKind.EnableNotifications: CheckNull(Model.DeviceEnabledNotifications(Device.EnableNotifications())); break;
                case RingOpKind.DisableNotifications: Device.DisableNotifications(); Model.DeviceDisabledNotifications(); break;
                default: throw new ArgumentOutOfRangeException(nameof(op));
            }

            CheckCounters();
        }
        catch (Exception e) when (e is not ModelMismatchException)
        {
            throw new ModelMismatchException(Describe($"threw {e.GetType().Name}: {e.Message}"), e);
        }
    }

    /// <summary>
    /// Publishes, pops, pushes, publishes and reclaims everything outstanding, then checks that
    /// nothing leaked (all descriptors free, nothing outstanding or in flight) and that nothing was
    /// written outside the guest regions.
    /// </summary>
    /// <exception cref="ModelMismatchException">The queues and the model differ.</exception>
    public void DrainAndVerify()
    {
        Apply(RingOp.Of(RingOpKind.Publish));
        Apply(RingOp.Of(RingOpKind.Kick));
        while (Model.AvailableCount > 0)
        {
            Apply(RingOp.Of(RingOpKind.Pop));
        }

        Apply(RingOp.Of(RingOpKind.Pop));
        while (Model.Held.Count > 0)
        {
            Apply(RingOp.Push(0, _random.Next(3) switch { 0 => 0, 1 => 100, _ => _random.Next(101) }));
        }

        Apply(RingOp.Of(RingOpKind.PublishUsed));
        Apply(RingOp.Of(RingOpKind.Notify));
        while (Model.UsedCount > 0)
        {
            Apply(RingOp.Of(RingOpKind.Reclaim));
        }

        Apply(RingOp.Of(RingOpKind.Reclaim));
        _op = null;
        if (Model.Outstanding != 0)
        {
            Fail("the model still has chains outstanding after the drain");
        }

        if (Driver.FreeDescriptors != Driver.Size)
        {
            Fail($"descriptor leak: FreeDescriptors={Driver.FreeDescriptors}, Size={Driver.Size}");
        }

        if (Driver.Outstanding != 0)
        {
            Fail($"Outstanding={Driver.Outstanding} after the drain");
        }

        if (Device.InFlight != 0)
        {
            Fail($"device InFlight={Device.InFlight} after the drain");
        }

        if (Pair.Buffers.Available != Pair.Buffers.Capacity)
        {
            Fail("a buffer was not returned");
        }

        if (!Pair.GuardedMemory.GuardsIntact())
        {
            Fail("a guard band was overwritten: something wrote outside guest memory");
        }
    }

    /// <summary>Frees the pair.</summary>
    public void Dispose() => Pair.Dispose();

    // ------------------------------------------------------------------ driver ops

    private void Add(ChainSpec spec)
    {
        if (spec.SegmentCount > Model.Config.MaxChainSegments || spec.MaxSegmentLength > SlotSize || Pair.Buffers.Available < spec.SegmentCount)
        {
            return;   // does not fit this queue or the buffer pool: a no-op
        }

        bool expected = Model.CanAdd(spec);
        var segments = new BufferSegment[spec.SegmentCount];
        byte[] readable = new byte[spec.ReadableLength];
        _random.NextBytes(readable);
        int offset = 0;
        for (int i = 0; i < segments.Length; i++)
        {
            GuestAddress a = Pair.Buffers.Rent();
            uint len = spec.LengthAt(i);
            Span<byte> slot = Pair.Buffers.GetSpan(a, SlotSize);
            slot.Fill(Poison);
            if (!spec.IsWritableAt(i))
            {
                readable.AsSpan(offset, (int)len).CopyTo(slot);
                offset += (int)len;
            }

            segments[i] = new BufferSegment(a, len, spec.IsWritableAt(i));
        }

        ulong token = Model.NextToken;
        bool added = Driver.TryAddChain(segments, token);
        Statistics.Count(added ? RunnerEvent.AddAccepted : RunnerEvent.AddRejected);
        if (added != expected)
        {
            Fail($"TryAddChain returned {added}; the model expects {expected} ({Model.Config.RingDescriptorsFor(spec.SegmentCount)} descriptor(s) needed, {Model.FreeDescriptors} free)");
        }

        if (!added)
        {
            foreach (BufferSegment s in segments)
            {
                Pair.Buffers.Return(s.Address);
            }

            return;
        }

        Model.Add(spec, segments, readable);
    }

    private void Kick()
    {
        NotificationExpectation e = Model.ExpectKick(Pair.Inspector);
        if (e.Violation is not null)
        {
            Fail($"before ShouldNotifyDevice: {e.Violation} ({e.Explanation})");
        }

        bool kick = Driver.ShouldNotifyDevice();
        Statistics.Count(e.Expected is null ? RunnerEvent.DecisionOpen : kick ? RunnerEvent.DecisionTrue : RunnerEvent.DecisionFalse);
        if (e.Expected is bool expected && kick != expected)
        {
            Fail($"ShouldNotifyDevice returned {kick}, expected {expected}: {e.Explanation}");
        }

        Model.KickDecided(kick);
    }

    private void Reclaim()
    {
        ModelChain? expected = Model.PeekUsed();
        PopStatus status = Driver.TryReclaimUsed(out UsedBuffer used);
        if (expected is null)
        {
            if (status != PopStatus.Empty)
            {
                Fail($"TryReclaimUsed returned {status} (token {used.Token}) with nothing published as used");
            }

            return;
        }

        if (status != PopStatus.Popped)
        {
            Fail($"TryReclaimUsed returned {status}; expected token {expected.Token}");
        }

        if (used.Token != expected.Token)
        {
            Fail($"reclaimed token {used.Token}; expected {expected.Token} ({expected})");
        }

        if (used.WrittenLength != expected.WrittenLength)
        {
            Fail($"reclaimed written length {used.WrittenLength}; the device pushed {expected.WrittenLength} ({expected})");
        }

        Statistics.Count(RunnerEvent.Reclaimed);
        VerifyBuffers(expected);
        foreach (BufferSegment s in expected.Segments)
        {
            Pair.Buffers.Return(s.Address);
        }

        Model.Reclaim();
    }

    private void VerifyBuffers(ModelChain chain)
    {
        ReadOnlySpan<byte> readable = chain.ReadableBytes.Span;
        ReadOnlySpan<byte> written = chain.WrittenBytes.Span;
        for (int i = 0; i < chain.Segments.Count; i++)
        {
            BufferSegment s = chain.Segments[i];
            Span<byte> slot = Pair.Buffers.GetSpan(s.Address, SlotSize);
            int len = (int)s.Length;
            if (!s.IsDeviceWritable)
            {
                if (!slot.Slice(0, len).SequenceEqual(readable.Slice(0, len)))
                {
                    Fail($"readable segment {i} was modified ({chain})");
                }

                readable = readable.Slice(len);
            }
            else
            {
                int w = Math.Min(len, written.Length);
                if (!slot.Slice(0, w).SequenceEqual(written.Slice(0, w)))
                {
                    Fail($"writable segment {i} does not hold the bytes the device wrote ({chain})");
                }

                if (slot.Slice(w, len - w).IndexOfAnyExcept(Poison) >= 0)
                {
                    Fail($"writable segment {i} was written past the pushed length ({chain})");
                }

                written = written.Slice(w);
            }

            if (slot.Slice(len).IndexOfAnyExcept(Poison) >= 0)
            {
                Fail($"bytes after segment {i} were written ({chain})");
            }
        }
    }

    // ------------------------------------------------------------------ device ops

    private void Pop()
    {
        ModelChain? expected = Model.PeekAvailable();
        PopStatus status = Device.TryPopAvailable(out DescriptorChain chain);
        if (expected is null)
        {
            if (status != PopStatus.Empty)
            {
                Fail($"TryPopAvailable returned {status} with nothing published");
            }

            return;
        }

        if (status != PopStatus.Popped)
        {
            Fail($"TryPopAvailable returned {status} (fault {Device.Fault}); expected token {expected.Token}");
        }

        if (!chain.IsHeld)
        {
            Fail("a popped chain is not held");
        }

        ChainSpec spec = expected.Spec;
        if (!(chain.SegmentCount == spec.SegmentCount && chain.ReadableCount == spec.Readable.Count))
        {
            Fail($"popped {chain.ReadableCount}+{chain.WritableCount} segments; the driver added {spec}");
        }

        if (!(chain.ReadableLength == spec.ReadableLength && chain.WritableLength == spec.WritableLength))
        {
            Fail($"popped lengths {chain.ReadableLength}/{chain.WritableLength}; the driver added {spec}");
        }

        for (int i = 0; i < chain.SegmentCount; i++)
        {
            BufferSegment got = chain.GetSegment(i);
            if (got != expected.Segments[i])
            {
                Fail($"segment {i} is {got.Address} len={got.Length} w={got.IsDeviceWritable}; the driver added {expected.Segments[i].Address} len={expected.Segments[i].Length} w={expected.Segments[i].IsDeviceWritable}");
            }
        }

        byte[] seen = new byte[chain.ReadableLength];
        if (!(chain.CopyFromReadable(0, seen) == seen.Length && seen.AsSpan().SequenceEqual(expected.ReadableBytes.Span)))
        {
            Fail("the device reads other bytes than the driver wrote");
        }

        if (Model.Config.Kind == QueueKind.Split)
        {
            if (chain.Id >= Model.Config.Size)
            {
                Fail($"split chain id {chain.Id} is not a descriptor index");
            }
        }

        Statistics.Count(chain.SegmentCount > 8 ? RunnerEvent.PoppedLong : RunnerEvent.Popped);
        Model.Pop(chain.Id, out string? error);
        CheckNull(error);
        _heldChains.Add(chain);
    }

    private void Push(int pick, int writtenPercent)
    {
        int index = Model.ChooseHeld(pick);
        if (index < 0)
        {
            return;
        }

        DescriptorChain chain = _heldChains[index];
        uint length = (uint)((ulong)chain.WritableLength * (ulong)Math.Clamp(writtenPercent, 0, 100) / 100);
        byte[] bytes = new byte[length];
        _random.NextBytes(bytes);
        if (chain.CopyToWritable(0, bytes) != bytes.Length)
        {
            Fail("CopyToWritable wrote fewer bytes than the writable length allows");
        }

        Device.PushUsed(chain, length);
        Statistics.Count(index != 0 ? RunnerEvent.PushedOutOfOrder : length == 0 ? RunnerEvent.PushedEmpty : RunnerEvent.Pushed);
        if (chain.IsHeld)
        {
            Fail("a pushed chain is still held");
        }

        _heldChains.RemoveAt(index);
        Model.Push(index, bytes);
    }

    private void PublishUsed()
    {
        int published = Device.PublishUsed();
        int expected = Model.PublishUsed();
        if (published != expected)
        {
            Fail($"PublishUsed returned {published}; {expected} buffer(s) were pushed");
        }

        if (Model.Config.Kind == QueueKind.Split)
        {
            ushort idx = Pair.Inspector.UsedIdx;
            if (idx != Model.SplitUsedIdx)
            {
                Fail($"used.idx is {idx}, expected {Model.SplitUsedIdx} (it counts buffers, IN_ORDER batches too)");
            }
        }
    }

    private void Notify()
    {
        NotificationExpectation e = Model.ExpectNotify(Pair.Inspector);
        if (e.Violation is not null)
        {
            Fail($"before ShouldNotifyDriver: {e.Violation} ({e.Explanation})");
        }

        bool notify = Device.ShouldNotifyDriver();
        Statistics.Count(e.Expected is null ? RunnerEvent.DecisionOpen : notify ? RunnerEvent.DecisionTrue : RunnerEvent.DecisionFalse);
        if (e.Expected is bool expected && notify != expected)
        {
            Fail($"ShouldNotifyDriver returned {notify}, expected {expected}: {e.Explanation}");
        }

        Model.NotifyDecided(notify);
    }

    // ------------------------------------------------------------------ checks

    private void CheckCounters()
    {
        if (Driver.IsBroken || Driver.Fault != VirtqueueFault.None)
        {
            Fail($"the driver queue broke: {Driver.Fault}");
        }

        if (Device.IsBroken || Device.Fault != VirtqueueFault.None)
        {
            Fail($"the device queue broke: {Device.Fault}");
        }

        if (Driver.FreeDescriptors != Model.FreeDescriptors)
        {
            Fail($"FreeDescriptors={Driver.FreeDescriptors}, model {Model.FreeDescriptors}");
        }

        if (Driver.Outstanding != Model.Outstanding)
        {
            Fail($"Outstanding={Driver.Outstanding}, model {Model.Outstanding}");
        }

        if (Device.InFlight != Model.Held.Count)
        {
            Fail($"InFlight={Device.InFlight}, model {Model.Held.Count}");
        }
    }

    private void Check(bool condition, string message)
    {
        if (!condition)
        {
            Fail(message);
        }
    }


    private void CheckNull(string? error)
    {
        if (error is not null)
        {
            Fail(error);
        }
    }

    private void Fail(string message) => throw new ModelMismatchException(Describe(message));

    private string Describe(string message) =>
        string.Create(CultureInfo.InvariantCulture,
            $"step {_step} ({_op?.ToString() ?? "final checks"}): {message}. Model: free={Model.FreeDescriptors} outstanding={Model.Outstanding} available={Model.AvailableCount} held={Model.Held.Count} pushed={Model.Pushed.Count} used={Model.UsedCount} published={Model.PublishedChains} usedBuffers={Model.UsedBuffers}");
}
