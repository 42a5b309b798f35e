namespace InterGuestLan;

/// <summary>The per-worker counters <see cref="GuestRunner.Sum"/> adds up.</summary>
internal enum Counter
{
    /// <summary>Frames the guest's driver accepted for sending.</summary>
    SentFrames,

    /// <summary>Their bytes.</summary>
    SentBytes,

    /// <summary>Frames received that were addressed to the guest.</summary>
    ReceivedFrames,

    /// <summary>Their bytes.</summary>
    ReceivedBytes,

    /// <summary>Messages that passed every check.</summary>
    Verified,

    /// <summary>Messages or frames that failed a content check.</summary>
    Corrupt,

    /// <summary>Messages older than one already received on the same flow.</summary>
    OutOfOrder,

    /// <summary>Messages skipped in a flow's sequence (lost in drop mode).</summary>
    Gaps,

    /// <summary>Frames addressed to another guest (broadcast announcements, flooding).</summary>
    NotForUs,
}
