namespace VirtioRing.Queues.Packed;

/// <summary>Driver side, event suppression (§2.8.10): when to kick the device, when to be interrupted.</summary>
public sealed unsafe partial class PackedDriverQueue
{
    private ushort _publishedAvail;   // avail position at the last publish
    private bool _publishedAvailWrap;
    private int _availSinceKick;      // avail slots published since the last decision (capped at size + 1)

    /// <inheritdoc/>
    /// <remarks>
    /// Reads the device event suppression structure: DISABLE never kicks, ENABLE kicks when anything
    /// was published, DESC (with EVENT_IDX) kicks when the published avail position moved past the
    /// descriptor offset and wrap counter the device asked for.
    /// </remarks>
    public bool ShouldNotifyDevice()
    {
        // Full barrier: the flags stored by PublishAvailable before the read of the Device Area (Sending Available Buffer Notifications).
        RingOrdering.Full();
        int advanced = _availSinceKick;
        _availSinceKick = 0;
        return PackedRing.NeedsNotification(_deviceEvent, _eventIndex, advanced, _publishedAvail, _publishedAvailWrap, _size);
    }

    /// <inheritdoc/>
    public void DisableUsedNotifications() => PackedRing.WriteEventFlags(_driverEvent, PackedRing.EventFlagsDisable);

    /// <inheritdoc/>
    /// <remarks>With EVENT_IDX the driver asks for an interrupt at its next used position (DESC mode); otherwise for every change.</remarks>
    public bool EnableUsedNotifications()
    {
        if (_eventIndex)
        {
            PackedRing.WriteEvent(_driverEvent, PackedRing.EventFlagsDesc, PackedRing.OffWrap(_nextUsed, _usedWrap));
        }
        else
        {
            PackedRing.WriteEvent(_driverEvent, PackedRing.EventFlagsEnable, 0);
        }

        // Full barrier: the event structure store before the re-read of the next used descriptor, so a
        // buffer used meanwhile is either seen here or interrupts the driver.
        RingOrdering.Full();
        if (_batchActive)
        {
            return true;
        }

        return _outstandingCount > 0 && PackedRing.IsUsed(PackedRing.LoadFlagsAcquire(_ring + (_nextUsed * Descriptor.Size)), _usedWrap);
    }
}
