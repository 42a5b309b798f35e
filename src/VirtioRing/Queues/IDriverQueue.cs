using System;
using VirtioRing.Memory;

namespace VirtioRing.Queues;

/// <summary>
/// The driver side of a virtqueue, split or packed: add chains of buffers with a caller token,
/// publish them, decide when to kick the device, and reclaim the buffers the device used.
/// </summary>
/// <remarks>
/// The device may be untrusted too (a vhost-user backend in another process): used ids and lengths
/// are validated, and a bad one breaks the queue with a <see cref="Fault"/> instead of throwing.
/// Not thread-safe: one thread drives a queue at a time.
/// </remarks>
public interface IDriverQueue
{
    /// <summary>Gets the queue size (number of descriptors).</summary>
    int Size { get; }

    /// <summary>Gets the negotiated ring features.</summary>
    VirtqueueFeatures Features { get; }

    /// <summary>Gets the guest memory holding the rings and the buffers.</summary>
    GuestMemory Memory { get; }

    /// <summary>Gets why the queue is broken, or <see cref="VirtqueueFault.None"/>.</summary>
    VirtqueueFault Fault { get; }

    /// <summary>Gets whether the queue is broken.</summary>
    bool IsBroken { get; }

    /// <summary>Gets the number of free descriptors in the ring's table or ring.</summary>
    int FreeDescriptors { get; }

    /// <summary>Gets the number of chains added and not yet reclaimed.</summary>
    int Outstanding { get; }

    /// <summary>
    /// Adds a chain: device-readable segments first, then device-writable ones. Uses an indirect
    /// table when indirect descriptors were negotiated and configured and the chain has more than
    /// one segment. The chain becomes visible to the device at <see cref="PublishAvailable"/>.
    /// </summary>
    /// <param name="segments">The buffers, readable before writable; at least one.</param>
    /// <param name="token">Returned with the buffer when it is reclaimed.</param>
    /// <returns><see langword="false"/> when there are not enough free descriptors (nothing was added).</returns>
    /// <exception cref="ArgumentException"><paramref name="segments"/> is empty, longer than the queue size, or has a readable segment after a writable one.</exception>
    /// <exception cref="InvalidOperationException">The queue is broken.</exception>
    bool TryAddChain(ReadOnlySpan<BufferSegment> segments, ulong token);

    /// <summary>Makes every added chain visible to the device at once (release order).</summary>
    /// <returns>The number of chains published.</returns>
    int PublishAvailable();

    /// <summary>
    /// Decides whether the device must be notified (kicked) for what was published since the last
    /// decision: <c>VRING_USED_F_NO_NOTIFY</c>, <c>avail_event</c>, or the packed device event
    /// suppression structure, after the full barrier the spec requires.
    /// </summary>
    /// <returns><see langword="true"/> when the caller must kick.</returns>
    bool ShouldNotifyDevice();

    /// <summary>Takes the next used buffer, with its token and written length.</summary>
    /// <param name="used">The buffer, when the result is <see cref="PopStatus.Popped"/>.</param>
    /// <returns>Popped, Empty, or Broken (see <see cref="Fault"/>).</returns>
    /// <remarks>
    /// <see cref="PopStatus.Empty"/> is not a reason to sleep by itself: the event index this call
    /// moves is stored without a full barrier (one per reclaim would cost every buffer). Before
    /// waiting for an interrupt, call <see cref="EnableUsedNotifications"/> and wait only when it
    /// returns <see langword="false"/>; that call has the barrier and the re-check.
    /// </remarks>
    PopStatus TryReclaimUsed(out UsedBuffer used);

    /// <summary>Asks the device not to interrupt on used buffers.</summary>
    void DisableUsedNotifications();

    /// <summary>Asks the device to interrupt on the next used buffer, then re-checks the ring.</summary>
    /// <returns><see langword="true"/> when used buffers are already pending: reclaim instead of sleeping.</returns>
    bool EnableUsedNotifications();
}
