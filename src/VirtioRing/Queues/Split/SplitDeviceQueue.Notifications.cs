namespace VirtioRing.Queues.Split;

/// <content>Notification suppression in both directions (§2.7.7, §2.7.10).</content>
public sealed unsafe partial class SplitDeviceQueue
{
    /// <inheritdoc/>
    /// <remarks>
    /// With <c>EVENT_IDX</c>: <see cref="EventIndex.NeedsEvent"/>(used_event, used.idx now, used.idx at
    /// the last decision). Without: whether anything was published since the last decision and the
    /// driver did not set <c>VRING_AVAIL_F_NO_INTERRUPT</c>. A broken queue never notifies.
    /// </remarks>
    public bool ShouldNotifyDriver()
    {
        if (_fault != VirtqueueFault.None)
        {
            return false;
        }

        // Full barrier (§2.7.10, Linux vhost's smp_mb before vhost_notify): the used.idx store must
        // be visible before the driver's used_event/flags are read, or both sides may miss each other.
        RingOrdering.Full();
        ushort newIndex = _publishedUsed;
        ushort oldIndex = _usedAtLastDecision;
        _usedAtLastDecision = newIndex;
        if (_eventIndex)
        {
            ushort usedEvent = RingOrdering.LoadRelaxed(ref SplitRing.UsedEvent(_avail, Layout.Size));
            return EventIndex.NeedsEvent(usedEvent, newIndex, oldIndex);
        }

        return newIndex != oldIndex &&
            (RingOrdering.LoadRelaxed(ref SplitRing.Field(_avail, SplitRing.FlagsOffset)) & SplitRing.AvailNoInterrupt) == 0;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Without <c>EVENT_IDX</c> sets <c>VRING_USED_F_NO_NOTIFY</c>. With it, stops moving avail_event
    /// forward (as Linux vhost and QEMU do), so the driver kicks at most once more.
    /// </remarks>
    public void DisableNotifications()
    {
        if (_fault != VirtqueueFault.None)
        {
            return;
        }

        _notificationsEnabled = false;
        if (!_eventIndex)
        {
            RingOrdering.StoreRelaxed(ref SplitRing.Field(_used, SplitRing.FlagsOffset), SplitRing.UsedNoNotify);
            _writeLog?.LogDeviceAreaWrite(SplitRing.FlagsOffset, sizeof(ushort));
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Clears <c>VRING_USED_F_NO_NOTIFY</c>, or with <c>EVENT_IDX</c> sets avail_event to the next
    /// avail index; then a full barrier and a fresh load of avail.idx. A broken queue returns
    /// <see langword="false"/>.
    /// </remarks>
    public bool EnableNotifications()
    {
        if (_fault != VirtqueueFault.None)
        {
            return false;
        }

        _notificationsEnabled = true;
        if (_eventIndex)
        {
            RingOrdering.StoreRelaxed(ref SplitRing.AvailEvent(_used, Layout.Size), _nextAvail);
            _writeLog?.LogDeviceAreaWrite(SplitRing.RingOffset + ((ulong)SplitRing.UsedElementSize * (uint)Layout.Size), sizeof(ushort));
        }
        else
        {
            RingOrdering.StoreRelaxed(ref SplitRing.Field(_used, SplitRing.FlagsOffset), 0);
            _writeLog?.LogDeviceAreaWrite(SplitRing.FlagsOffset, sizeof(ushort));
        }

        // Full barrier (store → load): the request must be visible before avail.idx is read again,
        // or a chain made available in between would get no kick and no pop (a lost wake-up).
        RingOrdering.Full();
        return RingOrdering.LoadAcquire(ref SplitRing.Field(_avail, SplitRing.IndexOffset)) != _nextAvail;
    }
}
