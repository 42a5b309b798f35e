using System;
using System.Collections.Generic;
using System.Globalization;
using VirtioRing.Queues;

namespace VirtioRing.TestKit;

/// <summary>
/// A reference model of one virtqueue seen from both sides: the chains in each stage of their life
/// (added, available, held by the device, pushed, used, reclaimed) with their tokens, buffers and
/// bytes; the free descriptor count; and the notification rules — <c>vring_need_event</c> and the
/// flags for split rings (§2.7.10), ENABLE/DISABLE/DESC for packed rings (§2.8.10) — plus the
/// no-lost-wake-up rule that holds for both.
/// </summary>
/// <remarks>
/// Order: the device pops in publish order; the driver reclaims in push order (the used ring and
/// the packed used descriptors are written in push order); under IN_ORDER the device pushes in pop
/// order, so everything is FIFO. Positions for packed event suppression are absolute descriptor
/// counts (ring slots published / used since the start); lap k has wrap counter 1 when k is even.
/// <para>Notification decisions, from the suppression values in memory and the position at the
/// previous decision: split with EVENT_IDX, exactly <c>vring_need_event(event, idx now, idx then)</c>;
/// split without, true iff something was published since and the other side's flag is clear;
/// packed DISABLE false, ENABLE true iff something was published since, DESC true iff the event
/// descriptor lies in the published range (left open only past a ring's worth). On top: without
/// EVENT_IDX the flags must show the other side's last enable/disable, and when the other side
/// enabled with nothing pending and something was published since, the answer must be true.</para>
/// </remarks>
public sealed class QueueModel
{
    private readonly List<ModelChain> _added = [];
    private readonly Queue<ModelChain> _available = new();
    private readonly List<ModelChain> _held = [];
    private readonly List<ModelChain> _pushed = [];
    private readonly Queue<ModelChain> _used = new();
    private readonly HashSet<ushort> _heldIds = [];
    private ulong _tokenCounter = 1;

    /// <summary>Creates the model of an empty queue.</summary>
    /// <param name="config">The configuration.</param>
    public QueueModel(QueueConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        FreeDescriptors = config.Size;
    }

    /// <summary>Gets the configuration.</summary>
    public QueueConfig Config { get; }

    /// <summary>Gets the token the next added chain gets (distinct 64-bit values that use every bit).</summary>
    public ulong NextToken => unchecked(_tokenCounter * 0x9E3779B97F4A7C15UL);

    /// <summary>Gets the free ring descriptors the driver should report.</summary>
    public int FreeDescriptors { get; private set; }

    /// <summary>Gets the chains added and not reclaimed.</summary>
    public int Outstanding { get; private set; }

    /// <summary>Gets the chains added and not yet published.</summary>
    public IReadOnlyList<ModelChain> Added => _added;

    /// <summary>Gets the number of chains published and not yet popped.</summary>
    public int AvailableCount => _available.Count;

    /// <summary>Gets the chains the device holds, in pop order.</summary>
    public IReadOnlyList<ModelChain> Held => _held;

    /// <summary>Gets the chains pushed and not yet published, in push order.</summary>
    public IReadOnlyList<ModelChain> Pushed => _pushed;

    /// <summary>Gets the number of chains published as used and not yet reclaimed.</summary>
    public int UsedCount => _used.Count;

    /// <summary>Gets the chains published by the driver since the start.</summary>
    public long PublishedChains { get; private set; }

    /// <summary>Gets the ring descriptors published by the driver since the start (packed avail position).</summary>
    public long PublishedDescriptors { get; private set; }

    /// <summary>Gets the buffers published as used since the start.</summary>
    public long UsedBuffers { get; private set; }

    /// <summary>Gets the ring descriptors published as used since the start (packed used position).</summary>
    public long UsedDescriptors { get; private set; }

    /// <summary>Gets the split <c>used.idx</c> the device must have written: the buffers published as used, modulo 2^16 (under IN_ORDER too, §2.7.9).</summary>
    public ushort SplitUsedIdx { get; private set; }

    /// <summary>Gets the chains reclaimed since the start.</summary>
    public long Reclaimed { get; private set; }

    /// <summary>Gets whether the driver asked for used buffer notifications (initially yes).</summary>
    public bool DriverWantsNotifications { get; private set; } = true;

    /// <summary>Gets whether the device asked for available buffer notifications (initially yes).</summary>
    public bool DeviceWantsNotifications { get; private set; } = true;

    /// <summary>Gets whether the driver enabled notifications with nothing pending and now sleeps until the device notifies.</summary>
    public bool DriverWaiting { get; private set; }

    /// <summary>Gets whether the device enabled notifications with nothing pending and now sleeps until the driver kicks.</summary>
    public bool DeviceWaiting { get; private set; }

    private long DeviceWaitMark { get; set; }

    private long DriverWaitMark { get; set; }

    private long LastKickChains { get; set; }

    private long LastKickDescriptors { get; set; }

    private long LastNotifyBuffers { get; set; }

    private long LastNotifyDescriptors { get; set; }

    private ushort LastNotifyUsedIdx { get; set; }

    // ------------------------------------------------------------------ driver

    /// <summary>Gets whether the driver has room for a chain of <paramref name="spec"/>'s shape.</summary>
    /// <param name="spec">The shape.</param>
    /// <returns><see langword="true"/> when <c>TryAddChain</c> must succeed.</returns>
    public bool CanAdd(ChainSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return Config.RingDescriptorsFor(spec.SegmentCount) <= FreeDescriptors;
    }

    /// <summary>Records a chain the driver added.</summary>
    /// <param name="spec">The shape.</param>
    /// <param name="segments">The buffers.</param>
    /// <param name="readableBytes">The bytes placed in the readable buffers, concatenated.</param>
    /// <returns>The chain, with its new token.</returns>
    public ModelChain Add(ChainSpec spec, ReadOnlySpan<BufferSegment> segments, byte[] readableBytes)
    {
        ArgumentNullException.ThrowIfNull(spec);
        int descriptors = Config.RingDescriptorsFor(spec.SegmentCount);
        if (descriptors > FreeDescriptors)
        {
            throw new InvalidOperationException("The model has no room for this chain.");
        }

        var chain = new ModelChain(NextToken, spec, segments.ToArray(), readableBytes, descriptors) { State = ModelChainState.Added };
        _tokenCounter++;
        FreeDescriptors -= descriptors;
        Outstanding++;
        _added.Add(chain);
        return chain;
    }

    /// <summary>Records the driver publishing every added chain.</summary>
    /// <returns>The number of chains published.</returns>
    public int Publish()
    {
        foreach (ModelChain c in _added)
        {
            c.State = ModelChainState.Available;
            _available.Enqueue(c);
            PublishedChains++;
            PublishedDescriptors += c.RingDescriptors;
        }

        int n = _added.Count;
        _added.Clear();
        return n;
    }

    /// <summary>Gets the next used chain the driver must reclaim, if any.</summary>
    /// <returns>The chain, or <see langword="null"/> when the driver must see nothing.</returns>
    public ModelChain? PeekUsed() => _used.Count > 0 ? _used.Peek() : null;

    /// <summary>Records the driver reclaiming the next used chain.</summary>
    /// <returns>The chain.</returns>
    public ModelChain Reclaim()
    {
        ModelChain c = _used.Dequeue();
        c.State = ModelChainState.Reclaimed;
        FreeDescriptors += c.RingDescriptors;
        Outstanding--;
        Reclaimed++;
        DriverWaiting = false;
        return c;
    }

    /// <summary>Records <c>EnableUsedNotifications</c>.</summary>
    /// <param name="returned">What it returned.</param>
    /// <returns>Why the return value is wrong, or <see langword="null"/>.</returns>
    public string? DriverEnabledNotifications(bool returned)
    {
        bool pending = _used.Count > 0;
        DriverWantsNotifications = true;
        DriverWaiting = !returned;
        DriverWaitMark = UsedBuffers;
        return returned == pending ? null
            : string.Create(CultureInfo.InvariantCulture, $"EnableUsedNotifications returned {returned} with {_used.Count} used buffer(s) pending");
    }

    /// <summary>Records <c>DisableUsedNotifications</c>.</summary>
    public void DriverDisabledNotifications()
    {
        DriverWantsNotifications = false;
        DriverWaiting = false;
    }

    // ------------------------------------------------------------------ device

    /// <summary>Gets the next chain the device must pop, if any.</summary>
    /// <returns>The chain, or <see langword="null"/> when the device must see nothing.</returns>
    public ModelChain? PeekAvailable() => _available.Count > 0 ? _available.Peek() : null;

    /// <summary>Records the device popping the next available chain.</summary>
    /// <param name="deviceId">The id the device gave it.</param>
    /// <param name="error">Set when the pop is wrong: the id is already held by another chain.</param>
    /// <returns>The chain.</returns>
    public ModelChain Pop(ushort deviceId, out string? error)
    {
        ModelChain c = _available.Dequeue();
        error = _heldIds.Add(deviceId) ? null
            : string.Create(CultureInfo.InvariantCulture, $"the device gave id {deviceId} to two chains in flight");
        c.DeviceId = deviceId;
        c.State = ModelChainState.Held;
        _held.Add(c);
        DeviceWaiting = false;
        return c;
    }

    /// <summary>Chooses the held chain a push op refers to: the oldest under IN_ORDER, otherwise <paramref name="pick"/> modulo the count.</summary>
    /// <param name="pick">Any non-negative number.</param>
    /// <returns>The index into <see cref="Held"/>, or -1 when nothing is held.</returns>
    public int ChooseHeld(int pick) => _held.Count == 0 ? -1 : Config.InOrder ? 0 : (int)((uint)pick % (uint)_held.Count);

    /// <summary>Records the device pushing a held chain with the bytes it wrote.</summary>
    /// <param name="heldIndex">The index into <see cref="Held"/>.</param>
    /// <param name="written">The bytes written at the start of the writable buffers.</param>
    public void Push(int heldIndex, byte[] written)
    {
        ArgumentNullException.ThrowIfNull(written);
        ModelChain c = _held[heldIndex];
        if (Config.InOrder && heldIndex != 0)
        {
            throw new InvalidOperationException("IN_ORDER pushes the oldest held chain.");
        }

        _held.RemoveAt(heldIndex);
        _heldIds.Remove(c.DeviceId);
        c.SetWritten(written);
        c.State = ModelChainState.Pushed;
        _pushed.Add(c);
    }

    /// <summary>Records the device publishing every pushed chain.</summary>
    /// <returns>The number of buffers published.</returns>
    public int PublishUsed()
    {
        foreach (ModelChain c in _pushed)
        {
            c.State = ModelChainState.Used;
            _used.Enqueue(c);
            UsedBuffers++;
            UsedDescriptors += c.RingDescriptors;
        }

        // §2.7.9: under IN_ORDER a batch may be one used element, but used.idx still moves by the batch size.
        SplitUsedIdx = unchecked((ushort)(SplitUsedIdx + _pushed.Count));
        int n = _pushed.Count;
        _pushed.Clear();
        return n;
    }

    /// <summary>Records <c>EnableNotifications</c> on the device.</summary>
    /// <param name="returned">What it returned.</param>
    /// <returns>Why the return value is wrong, or <see langword="null"/>.</returns>
    public string? DeviceEnabledNotifications(bool returned)
    {
        bool pending = _available.Count > 0;
        DeviceWantsNotifications = true;
        DeviceWaiting = !returned;
        DeviceWaitMark = PublishedChains;
        return returned == pending ? null
            : string.Create(CultureInfo.InvariantCulture, $"EnableNotifications returned {returned} with {_available.Count} available chain(s) pending");
    }

    /// <summary>Records <c>DisableNotifications</c> on the device.</summary>
    public void DeviceDisabledNotifications()
    {
        DeviceWantsNotifications = false;
        DeviceWaiting = false;
    }

    // ------------------------------------------------------------------ notifications

    /// <summary>
    /// What <c>ShouldNotifyDevice</c> must answer now, from the ring state the device wrote (read
    /// through <paramref name="ring"/> before the call) and the driver's position at its last decision.
    /// </summary>
    /// <param name="ring">The ring inspector.</param>
    /// <returns>The expectation.</returns>
    public NotificationExpectation ExpectKick(RingInspector ring)
    {
        ArgumentNullException.ThrowIfNull(ring);
        long since = PublishedChains - LastKickChains;
        bool? formula;
        string? violation = null;
        string explanation;
        if (Config.Kind == QueueKind.Split)
        {
            ushort newIdx = ring.AvailIdx;
            ushort oldIdx = unchecked((ushort)LastKickChains);
            if (newIdx != unchecked((ushort)PublishedChains))
            {
                violation = string.Create(CultureInfo.InvariantCulture, $"avail.idx is {newIdx}, the driver published {PublishedChains} chains");
            }

            (formula, explanation) = SplitDecision(Config.EventIndex, ring.UsedFlags, ring.AvailEvent, newIdx, oldIdx, "used.flags", "avail_event");
        }
        else
        {
            EventSuppression e = ring.DeviceEvent;
            formula = PackedDecision(e, Config.EventIndex, Config.Size, LastKickDescriptors, PublishedDescriptors, out string? invalid);
            violation = invalid is null ? null : "device event suppression: " + invalid;
            explanation = string.Create(CultureInfo.InvariantCulture, $"device event {e}, avail position {LastKickDescriptors} -> {PublishedDescriptors}");
        }

        return Combine(formula, violation, explanation, since, DeviceWantsNotifications, DeviceWaiting && PublishedChains > DeviceWaitMark, "device");
    }

    /// <summary>Records the driver's decision (its position becomes the new baseline).</summary>
    /// <param name="notified">What <c>ShouldNotifyDevice</c> returned.</param>
    public void KickDecided(bool notified)
    {
        LastKickChains = PublishedChains;
        LastKickDescriptors = PublishedDescriptors;
        if (notified)
        {
            DeviceWaiting = false;
        }
    }

    /// <summary>
    /// What <c>ShouldNotifyDriver</c> must answer now, from the ring state the driver wrote (read
    /// through <paramref name="ring"/> before the call) and the device's position at its last decision.
    /// </summary>
    /// <param name="ring">The ring inspector.</param>
    /// <returns>The expectation.</returns>
    public NotificationExpectation ExpectNotify(RingInspector ring)
    {
        ArgumentNullException.ThrowIfNull(ring);
        long since = UsedBuffers - LastNotifyBuffers;
        bool? formula;
        string? violation = null;
        string explanation;
        if (Config.Kind == QueueKind.Split)
        {
            ushort newIdx = ring.UsedIdx;
            if (newIdx != SplitUsedIdx)
            {
                violation = string.Create(CultureInfo.InvariantCulture, $"used.idx is {newIdx}, the model expects {SplitUsedIdx} after {UsedBuffers} buffers");
            }

            (formula, explanation) = SplitDecision(Config.EventIndex, ring.AvailFlags, ring.UsedEvent, newIdx, LastNotifyUsedIdx, "avail.flags", "used_event");
        }
        else
        {
            EventSuppression e = ring.DriverEvent;
            formula = PackedDecision(e, Config.EventIndex, Config.Size, LastNotifyDescriptors, UsedDescriptors, out string? invalid);
            violation = invalid is null ? null : "driver event suppression: " + invalid;
            explanation = string.Create(CultureInfo.InvariantCulture, $"driver event {e}, used position {LastNotifyDescriptors} -> {UsedDescriptors}");
        }

        return Combine(formula, violation, explanation, since, DriverWantsNotifications, DriverWaiting && UsedBuffers > DriverWaitMark, "driver");
    }

    /// <summary>Records the device's decision (its position becomes the new baseline).</summary>
    /// <param name="notified">What <c>ShouldNotifyDriver</c> returned.</param>
    public void NotifyDecided(bool notified)
    {
        LastNotifyBuffers = UsedBuffers;
        LastNotifyDescriptors = UsedDescriptors;
        LastNotifyUsedIdx = SplitUsedIdx;
        if (notified)
        {
            DriverWaiting = false;
        }
    }

    /// <summary>
    /// The split rule (§2.7.10): with EVENT_IDX, notify iff <c>vring_need_event(event, new, old)</c>;
    /// otherwise iff something was published since the last decision and the other side's flag (bit 0) is clear.
    /// </summary>
    /// <param name="eventIndex">Whether EVENT_IDX was negotiated.</param>
    /// <param name="flags">The other side's flags field.</param>
    /// <param name="eventIdx">The other side's event index field.</param>
    /// <param name="newIdx">The index now.</param>
    /// <param name="oldIdx">The index at the last decision.</param>
    /// <param name="flagsName">Name of the flags field, for the explanation.</param>
    /// <param name="eventName">Name of the event field, for the explanation.</param>
    /// <returns>The decision (null: either) and an explanation.</returns>
    public static (bool? Decision, string Explanation) SplitDecision(bool eventIndex, ushort flags, ushort eventIdx, ushort newIdx, ushort oldIdx, string flagsName, string eventName)
    {
        if (eventIndex)
        {
            return (EventIndex.NeedsEvent(eventIdx, newIdx, oldIdx),
                string.Create(CultureInfo.InvariantCulture, $"vring_need_event({eventName}={eventIdx}, new={newIdx}, old={oldIdx})"));
        }

        // Nothing published since the last decision: nothing to notify for (the contract's "for what was published since the last decision").
        string why = string.Create(CultureInfo.InvariantCulture, $"{flagsName}={flags}, idx {oldIdx} -> {newIdx}");
        return (newIdx != oldIdx && (flags & 1) == 0, why);
    }

    /// <summary>
    /// The packed rule (§2.8.10): ENABLE notifies when something was published, DISABLE
    /// does not, DESC notifies iff the descriptor at the event's offset and wrap counter lies in
    /// [<paramref name="oldPosition"/>, <paramref name="newPosition"/>) (undecided when more than a
    /// ring's worth passed, where wrap counters become ambiguous).
    /// </summary>
    /// <param name="e">The other side's event suppression structure.</param>
    /// <param name="eventIndex">Whether EVENT_IDX was negotiated (DESC needs it).</param>
    /// <param name="size">The queue size.</param>
    /// <param name="oldPosition">The absolute position at the last decision.</param>
    /// <param name="newPosition">The absolute position now.</param>
    /// <param name="invalid">Why the structure is not a valid value, or <see langword="null"/>.</param>
    /// <returns>The decision, or <see langword="null"/> when either is acceptable.</returns>
    public static bool? PackedDecision(EventSuppression e, bool eventIndex, int size, long oldPosition, long newPosition, out string? invalid)
    {
        invalid = null;
        switch (e.Flags)
        {
            case EventSuppression.Enable:
                return newPosition != oldPosition;
            case EventSuppression.Disable:
                return false;
            case EventSuppression.Desc:
                if (!eventIndex)
                {
                    invalid = "RING_EVENT_FLAGS_DESC without EVENT_IDX";
                    return null;
                }

                if (e.Offset >= size)
                {
                    invalid = string.Create(CultureInfo.InvariantCulture, $"event offset {e.Offset} is not below the queue size {size}");
                    return null;
                }

                return newPosition - oldPosition > size ? null : PackedEventReached(size, e.Offset, e.WrapCounter, oldPosition, newPosition);
            default:
                invalid = string.Create(CultureInfo.InvariantCulture, $"reserved flags value {e.Flags}");
                return null;
        }
    }

    /// <summary>
    /// Tells whether an absolute position in [<paramref name="oldPosition"/>, <paramref name="newPosition"/>)
    /// is at ring offset <paramref name="offset"/> in a lap with wrap counter <paramref name="wrapCounter"/>
    /// (lap k = position / size has wrap counter 1 when k is even).
    /// </summary>
    /// <param name="size">The queue size.</param>
    /// <param name="offset">The ring offset, below <paramref name="size"/>.</param>
    /// <param name="wrapCounter">The wrap counter.</param>
    /// <param name="oldPosition">The first position of the range.</param>
    /// <param name="newPosition">The position after the range.</param>
    /// <returns><see langword="true"/> when the range contains the event descriptor.</returns>
    public static bool PackedEventReached(int size, int offset, bool wrapCounter, long oldPosition, long newPosition)
    {
        long period = 2L * size;
        long residue = offset + (wrapCounter ? 0L : size);
        long delta = ((residue - oldPosition) % period + period) % period;
        return oldPosition + delta < newPosition;
    }

    // waitingForNew: the other side enabled notifications with nothing pending and something was published since.
    private NotificationExpectation Combine(bool? formula, string? violation, string explanation, long publishedSince, bool wants, bool waitingForNew, string other)
    {
        bool? required = null;
        string because = string.Empty;
        if (publishedSince > 0 && !Config.EventIndex)
        {
            // Flags mode: the other side's enable/disable must show in the flags it wrote.
            required = wants;
            because = $"; no EVENT_IDX and the {other} {(wants ? "enabled" : "disabled")} notifications last";
        }

        if (waitingForNew)
        {
            required = true;
            because = $"; the {other} enabled notifications with nothing pending, sleeps, and something was published since (a lost wake-up otherwise)";
        }

        if (formula.HasValue && required.HasValue && formula.Value != required.Value && violation is null)
        {
            violation = $"the suppression state in memory gives {formula.Value}, but{because.TrimStart(';')}";
        }

        return new NotificationExpectation(formula ?? required, violation, explanation + because);
    }
}
