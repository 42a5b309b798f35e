namespace VirtioRing.Queues.Split;

/// <content>Notification suppression in both directions (§2.7.7, §2.7.10).</content>
public sealed unsafe partial class SplitDriverQueue
{
    /// <inheritdoc/>
    /// <remarks>
    /// With <c>EVENT_IDX</c>: <see cref="EventIndex.NeedsEvent"/>(avail_event, avail.idx now, avail.idx
    /// at the last decision). Without: whether anything was published since the last decision and the
    /// device did not set <c>VRING_USED_F_NO_NOTIFY</c>. A broken queue never kicks.
    /// </remarks>
    public bool ShouldNotifyDevice()
    {
        if (_fault != VirtqueueFault.None)
        {
            return false;
        }

        // Full barrier (§2.7.13.4, Linux's virtio_mb in kick_prepare): the avail.idx store must be
        // visible before the device's avail_event/flags are read.
        RingOrdering.Full();
        ushort newIndex = _publishedAvail;
        ushort oldIndex = _availAtLastDecision;
        _availAtLastDecision = newIndex;
        if (_eventIndex)
        {
            ushort availEvent = RingOrdering.LoadRelaxed(ref SplitRing.AvailEvent(_used, Layout.Size));
            return EventIndex.NeedsEvent(availEvent, newIndex, oldIndex);
        }

        return newIndex != oldIndex &&
            (RingOrdering.LoadRelaxed(ref SplitRing.Field(_used, SplitRing.FlagsOffset)) & SplitRing.UsedNoNotify) == 0;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Without <c>EVENT_IDX</c> sets <c>VRING_AVAIL_F_NO_INTERRUPT</c>. With it, stops moving
    /// used_event forward (as Linux does), so the device interrupts at most once more.
    /// </remarks>
    public void DisableUsedNotifications()
    {
        if (_fault != VirtqueueFault.None)
        {
            return;
        }

        _usedNotificationsEnabled = false;
        if (!_eventIndex)
        {
            RingOrdering.StoreRelaxed(ref SplitRing.Field(_avail, SplitRing.FlagsOffset), SplitRing.AvailNoInterrupt);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Clears <c>VRING_AVAIL_F_NO_INTERRUPT</c>, or with <c>EVENT_IDX</c> sets used_event to the next
    /// used index; then a full barrier and a fresh load of used.idx. A broken queue returns <see langword="false"/>.
    /// </remarks>
    public bool EnableUsedNotifications()
    {
        if (_fault != VirtqueueFault.None)
        {
            return false;
        }

        _usedNotificationsEnabled = true;
        if (_eventIndex)
        {
            RingOrdering.StoreRelaxed(ref SplitRing.UsedEvent(_avail, Layout.Size), _nextUsed);
        }
        else
        {
            RingOrdering.StoreRelaxed(ref SplitRing.Field(_avail, SplitRing.FlagsOffset), 0);
        }

        // Full barrier (store → load): the request must be visible before used.idx is read again,
        // or a buffer used in between would get no interrupt and no reclaim (a lost wake-up).
        RingOrdering.Full();
        return _batchOpen || RingOrdering.LoadAcquire(ref SplitRing.Field(_used, SplitRing.IndexOffset)) != _nextUsed;
    }
}
