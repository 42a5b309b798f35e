using System.Runtime.CompilerServices;

namespace VirtioRing.Queues;

/// <summary>The event-index rule of <c>VIRTIO_F_EVENT_IDX</c> (virtio 1.2 §2.7.10, <c>vring_need_event</c>).</summary>
public static class EventIndex
{
    /// <summary>
    /// Tells whether moving an index from <paramref name="oldIdx"/> to <paramref name="newIdx"/>
    /// crossed <paramref name="eventIdx"/>, i.e. whether eventIdx lies in [oldIdx, newIdx) modulo 2^16.
    /// </summary>
    /// <param name="eventIdx">The other side's requested event index.</param>
    /// <param name="newIdx">The index after the update.</param>
    /// <param name="oldIdx">The index before the update (at the last notification decision).</param>
    /// <returns><see langword="true"/> when the other side must be notified.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool NeedsEvent(ushort eventIdx, ushort newIdx, ushort oldIdx) =>
        unchecked((ushort)(newIdx - eventIdx - 1) < (ushort)(newIdx - oldIdx));
}
