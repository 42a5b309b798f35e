using VirtioRing.Memory;

namespace VirtioRing.Queues;

/// <summary>
/// The device side of a virtqueue, split or packed: pop the chains the driver made available,
/// read and write their buffers in place, push them back as used, and decide when to interrupt
/// the driver. The net engine is written once over this interface.
/// </summary>
/// <remarks>
/// <para>Everything in guest memory is untrusted. A ring that breaks the rules does not throw: the
/// queue records a <see cref="Fault"/>, turns <see cref="IsBroken"/>, and every later pop returns
/// <see cref="PopStatus.Broken"/>. Exceptions mean the caller misused the API.</para>
/// <para>Not thread-safe: one thread drives a queue at a time (the other side is the driver, in
/// shared memory, which may run concurrently).</para>
/// </remarks>
public interface IDeviceQueue
{
    /// <summary>Gets the queue size (number of descriptors).</summary>
    int Size { get; }

    /// <summary>Gets the negotiated ring features.</summary>
    VirtqueueFeatures Features { get; }

    /// <summary>Gets or sets the guest memory the queue translates through (a VMM may swap tables; held chains keep their translations).</summary>
    GuestMemory Memory { get; set; }

    /// <summary>Gets why the queue is broken, or <see cref="VirtqueueFault.None"/>.</summary>
    VirtqueueFault Fault { get; }

    /// <summary>Gets whether the queue is broken (a fault was seen); it stays so until <see cref="Reset"/>.</summary>
    bool IsBroken { get; }

    /// <summary>Gets the number of chains popped and not yet pushed as used.</summary>
    int InFlight { get; }

    /// <summary>
    /// Pops the next available chain, following an indirect table if there is one, validating and
    /// translating every buffer. Reads each descriptor exactly once.
    /// </summary>
    /// <param name="chain">The chain, when the result is <see cref="PopStatus.Popped"/>.</param>
    /// <returns>Popped, Empty, or Broken (see <see cref="Fault"/>).</returns>
    /// <remarks>
    /// <see cref="PopStatus.Empty"/> is not a reason to sleep by itself: before waiting for a kick,
    /// call <see cref="EnableNotifications"/> and wait only when it returns <see langword="false"/>;
    /// that call has the full barrier and the re-check (no lost wake-up).
    /// </remarks>
    PopStatus TryPopAvailable(out DescriptorChain chain);

    /// <summary>
    /// Returns a held chain to the driver as used, with the number of bytes written into its
    /// writable buffers. The element becomes visible to the driver at <see cref="PublishUsed"/>.
    /// Under <c>IN_ORDER</c> chains must be pushed in the order they were popped; a run of chains
    /// whose written length is zero followed by one more chain is then published as a single
    /// used element (§2.7.9, §2.8.20).
    /// </summary>
    /// <param name="chain">A chain popped from this queue and not yet pushed.</param>
    /// <param name="writtenLength">Bytes written, at most the chain's <see cref="DescriptorChain.WritableLength"/>.</param>
    /// <exception cref="System.InvalidOperationException">The chain is stale or from another queue, or (IN_ORDER) out of order.</exception>
    /// <exception cref="System.ArgumentOutOfRangeException"><paramref name="writtenLength"/> exceeds the writable length.</exception>
    void PushUsed(in DescriptorChain chain, uint writtenLength);

    /// <summary>Makes every pushed used element visible to the driver at once (one index or flag store with release order).</summary>
    /// <returns>The number of buffers published.</returns>
    int PublishUsed();

    /// <summary>
    /// Decides whether the driver must be interrupted for what was published since the last
    /// decision: <c>VRING_AVAIL_F_NO_INTERRUPT</c>, <c>used_event</c>, or the packed driver event
    /// suppression structure. Issues the full barrier the spec requires before reading them.
    /// </summary>
    /// <returns><see langword="true"/> when the caller must notify (signal the call eventfd, raise the interrupt).</returns>
    bool ShouldNotifyDriver();

    /// <summary>Asks the driver not to notify (kick) the device on new available buffers.</summary>
    void DisableNotifications();

    /// <summary>
    /// Asks the driver to notify the device on the next available buffer, then re-checks the ring
    /// so that a buffer made available meanwhile is not missed.
    /// </summary>
    /// <returns><see langword="true"/> when buffers are already available: the caller must pop again instead of sleeping.</returns>
    bool EnableNotifications();

    /// <summary>Gets the ring position for save/restore (vhost-user <c>GET_VRING_BASE</c>).</summary>
    /// <returns>The current position.</returns>
    QueueState SaveState();

    /// <summary>Sets the ring position (vhost-user <c>SET_VRING_BASE</c>, migration). Forgets held chains.</summary>
    /// <param name="state">The position to continue from.</param>
    void RestoreState(QueueState state);

    /// <summary>Returns the queue to its initial state: position zero, no fault, no held chains (held values go stale).</summary>
    void Reset();
}
