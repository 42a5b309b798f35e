namespace VirtioRing.Queues.Packed;

/// <summary>Device side, event suppression (§2.8.10): when to interrupt the driver, when to be kicked.</summary>
public sealed unsafe partial class PackedDeviceQueue
{
    private ushort _publishedUsed;     // used position at the last publish
    private bool _publishedUsedWrap;
    private int _usedSinceSignal;      // used slots published since the last decision

    /// <inheritdoc/>
    /// <remarks>
    /// Reads the driver event suppression structure: DISABLE never notifies, ENABLE notifies when
    /// anything was published, and DESC (with EVENT_IDX) notifies when the published used position
    /// moved past the descriptor offset and wrap counter the driver asked for.
    /// </remarks>
    public bool ShouldNotifyDriver()
    {
        if (_fault != VirtqueueFault.None)
        {
            return false;
        }

        // Full barrier: the used flags stored by PublishUsed before the read of the driver's event structure (the device-side twin of the driver's barrier before reading the Device Area).
        RingOrdering.Full();
        int advanced = _usedSinceSignal;
        _usedSinceSignal = 0;
        return PackedRing.NeedsNotification(_driverEvent, _eventIndex, advanced, _publishedUsed, _publishedUsedWrap, _size);
    }

    /// <inheritdoc/>
    public void DisableNotifications()
    {
        if (_fault != VirtqueueFault.None)
        {
            return;
        }

        PackedRing.WriteEventFlags(_deviceEvent, PackedRing.EventFlagsDisable);
        _writeLog?.LogDeviceAreaWrite(PackedRing.EventFlagsOffset, sizeof(ushort));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// With EVENT_IDX the device asks for a kick at its next avail position (DESC mode, offset and
    /// wrap counter); otherwise it enables kicks for every change.
    /// </remarks>
    public bool EnableNotifications()
    {
        if (_fault != VirtqueueFault.None)
        {
            return false;
        }

        if (_eventIndex)
        {
            PackedRing.WriteEvent(_deviceEvent, PackedRing.EventFlagsDesc, PackedRing.OffWrap(_nextAvail, _availWrap));
        }
        else
        {
            PackedRing.WriteEvent(_deviceEvent, PackedRing.EventFlagsEnable, 0);
        }

        _writeLog?.LogDeviceAreaWrite(PackedRing.EventOffWrapOffset, PackedQueueLayout.EventSuppressionBytes);

        // Full barrier: the event structure store before the re-read of the next descriptor, so a
        // descriptor exposed meanwhile is either seen here or kicked by the driver.
        RingOrdering.Full();
        return PackedRing.IsAvailable(PackedRing.LoadFlagsAcquire(_ring + (_nextAvail * Descriptor.Size)), _availWrap);
    }
}
