using System;
using System.Diagnostics;

namespace VirtioRing.Linux.Tap;

/// <summary>
/// A snapshot of one <see cref="TapBackend"/> queue's counters. Transmit is guest to kernel (frames
/// written to the TAP), receive is kernel to guest (frames read from it).
/// </summary>
[DebuggerDisplay("tx {TransmittedFrames} ({TransmitRejected} rejected), rx {ReceivedFrames}, wakeups {Wakeups}")]
public readonly struct TapQueueCounters : IEquatable<TapQueueCounters>
{
    /// <summary>Initializes a new instance of the <see cref="TapQueueCounters"/> struct.</summary>
    /// <param name="transmittedFrames">Frames the kernel took.</param>
    /// <param name="transmittedBytes">Their bytes (virtio-net header not counted).</param>
    /// <param name="transmittedGsoFrames">Of those, super-frames the kernel segments (TSO, UFO, USO).</param>
    /// <param name="transmitBusy">Writes answered <c>EAGAIN</c> (flow control: the engine held the frame).</param>
    /// <param name="transmitRejected">Frames the kernel refused with <c>EINVAL</c> (a virtio-net header or frame it does not accept): dropped.</param>
    /// <param name="transmitLinkDown">Frames dropped with <c>EIO</c> because the interface was down.</param>
    /// <param name="transmitErrors">Frames dropped for another passing error (<c>ENOMEM</c>, <c>ENOBUFS</c>, <c>EFAULT</c>).</param>
    /// <param name="droppedAfterFault">Frames dropped because the queue had failed for good.</param>
    /// <param name="receivedFrames">Frames read and handed to the host (written into guest buffers, or delivered).</param>
    /// <param name="receivedBytes">Their bytes (virtio-net header not counted).</param>
    /// <param name="receiveTruncated">Frames longer than the buffers offered for them: read cut short and dropped.</param>
    /// <param name="receiveRefused">Frames read and refused by the host (filtered, bad, queue down).</param>
    /// <param name="receiveErrors">Reads that failed with a passing error.</param>
    /// <param name="wakeups">Readiness events (the TAP became readable, writable again, or failed) that woke the host.</param>
    public TapQueueCounters(
        long transmittedFrames, long transmittedBytes, long transmittedGsoFrames, long transmitBusy, long transmitRejected, long transmitLinkDown,
        long transmitErrors, long droppedAfterFault, long receivedFrames, long receivedBytes, long receiveTruncated, long receiveRefused,
        long receiveErrors, long wakeups)
    {
        TransmittedFrames = transmittedFrames;
        TransmittedBytes = transmittedBytes;
        TransmittedGsoFrames = transmittedGsoFrames;
        TransmitBusy = transmitBusy;
        TransmitRejected = transmitRejected;
        TransmitLinkDown = transmitLinkDown;
        TransmitErrors = transmitErrors;
        DroppedAfterFault = droppedAfterFault;
        ReceivedFrames = receivedFrames;
        ReceivedBytes = receivedBytes;
        ReceiveTruncated = receiveTruncated;
        ReceiveRefused = receiveRefused;
        ReceiveErrors = receiveErrors;
        Wakeups = wakeups;
    }

    /// <summary>Gets the frames the kernel took.</summary>
    public long TransmittedFrames { get; }

    /// <summary>Gets the bytes of the frames the kernel took (virtio-net header not counted).</summary>
    public long TransmittedBytes { get; }

    /// <summary>Gets how many of the frames taken were super-frames for the kernel to segment (TSO, UFO, USO).</summary>
    public long TransmittedGsoFrames { get; }

    /// <summary>Gets the writes answered <c>EAGAIN</c> (the engine held the frame and retried after the TAP became writable).</summary>
    public long TransmitBusy { get; }

    /// <summary>Gets the frames the kernel refused with <c>EINVAL</c> (a virtio-net header or frame it does not accept); dropped.</summary>
    public long TransmitRejected { get; }

    /// <summary>Gets the frames dropped with <c>EIO</c> because the interface was down.</summary>
    public long TransmitLinkDown { get; }

    /// <summary>Gets the frames dropped for another passing error.</summary>
    public long TransmitErrors { get; }

    /// <summary>Gets the frames dropped because the queue had failed for good (the TAP was deleted) or the backend was disposed.</summary>
    public long DroppedAfterFault { get; }

    /// <summary>Gets the frames read and handed to the host.</summary>
    public long ReceivedFrames { get; }

    /// <summary>Gets the bytes of the frames read (virtio-net header not counted).</summary>
    public long ReceivedBytes { get; }

    /// <summary>Gets the frames longer than the buffers offered for them (dropped).</summary>
    public long ReceiveTruncated { get; }

    /// <summary>Gets the frames the host refused after they were read (filtered, bad, queue down).</summary>
    public long ReceiveRefused { get; }

    /// <summary>Gets the reads that failed with a passing error.</summary>
    public long ReceiveErrors { get; }

    /// <summary>Gets the readiness events that woke the host for this queue.</summary>
    public long Wakeups { get; }

    /// <summary>Gets every frame dropped on the way to the kernel.</summary>
    public long TransmitDrops => TransmitRejected + TransmitLinkDown + TransmitErrors + DroppedAfterFault;

    /// <inheritdoc/>
    public bool Equals(TapQueueCounters other) =>
        TransmittedFrames == other.TransmittedFrames && TransmittedBytes == other.TransmittedBytes && TransmittedGsoFrames == other.TransmittedGsoFrames &&
        TransmitBusy == other.TransmitBusy && TransmitRejected == other.TransmitRejected && TransmitLinkDown == other.TransmitLinkDown &&
        TransmitErrors == other.TransmitErrors && DroppedAfterFault == other.DroppedAfterFault && ReceivedFrames == other.ReceivedFrames &&
        ReceivedBytes == other.ReceivedBytes && ReceiveTruncated == other.ReceiveTruncated && ReceiveRefused == other.ReceiveRefused &&
        ReceiveErrors == other.ReceiveErrors && Wakeups == other.Wakeups;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is TapQueueCounters other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(TransmittedFrames, TransmittedBytes, ReceivedFrames, ReceivedBytes, TransmitDrops, Wakeups);

    /// <summary>Compares two snapshots.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they are equal.</returns>
    public static bool operator ==(TapQueueCounters left, TapQueueCounters right) => left.Equals(right);

    /// <summary>Compares two snapshots.</summary>
    /// <param name="left">The first.</param>
    /// <param name="right">The second.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(TapQueueCounters left, TapQueueCounters right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() =>
        $"tx {TransmittedFrames} frames / {TransmittedBytes} B ({TransmittedGsoFrames} GSO, {TransmitBusy} busy, {TransmitRejected} rejected, " +
        $"{TransmitLinkDown} link down, {TransmitErrors} errors, {DroppedAfterFault} after fault); rx {ReceivedFrames} frames / {ReceivedBytes} B " +
        $"({ReceiveTruncated} truncated, {ReceiveRefused} refused, {ReceiveErrors} errors); {Wakeups} wakeups";
}
