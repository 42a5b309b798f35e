using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Threading;
using VirtioRing.Queues;

namespace VirtioRing.Net.Control;

/// <summary>
/// The device side of the virtio-net control virtqueue (virtio 1.2 §5.1.6.5): reads a command from a
/// chain, checks it against the negotiated features and the device limits, applies it atomically
/// (a new <see cref="NetControlState"/> swapped in), and writes the ack. A malformed, unsupported or
/// not-negotiated command gets <c>VIRTIO_NET_ERR</c> and changes nothing; a chain without a
/// device-writable byte is refused without any change.
/// </summary>
/// <remarks>
/// The readable part is gathered once into a buffer owned by the handler (sized at construction to
/// the longest valid command, so nothing is read twice from guest memory and nothing is allocated per
/// command but the new snapshot); a longer chain is refused, except a <c>MAC_TABLE_SET</c> whose
/// tables exceed what the device keeps, which is read piecewise and turns into "accept all".
/// Commands are handled one at a time (a lock guards writers); <see cref="State"/> is read without locks.
/// </remarks>
[DebuggerDisplay("v{State.Version} max={MaxCommandLength}")]
public sealed partial class NetControlHandler
{
    private const int HeaderLength = 2;

    private readonly object _gate = new();
    private readonly byte[] _scratch;
    private NetControlState _state;

    /// <summary>Creates a handler in the reset state.</summary>
    /// <param name="negotiatedFeatures">The features both sides agreed on.</param>
    /// <param name="limits">The device's config-space limits.</param>
    /// <exception cref="ArgumentNullException"><paramref name="limits"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A limit is outside what the spec allows.</exception>
    public NetControlHandler(NetFeatures negotiatedFeatures, NetControlLimits limits)
    {
        if (limits is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(limits));
        }

        limits.Validate();
        NegotiatedFeatures = negotiatedFeatures;
        Limits = limits;
        _scratch = new byte[ComputeMaxCommandLength(negotiatedFeatures, limits)];
        _state = new NetControlState(negotiatedFeatures, limits);
    }

    /// <summary>Gets the negotiated features.</summary>
    public NetFeatures NegotiatedFeatures { get; }

    /// <summary>Gets the device limits.</summary>
    public NetControlLimits Limits { get; }

    /// <summary>Gets the longest readable part (class, command and data) the handler gathers.</summary>
    public int MaxCommandLength => _scratch.Length;

    /// <summary>Gets the current snapshot (an acquire read; safe from any thread, no lock).</summary>
    public NetControlState State => Volatile.Read(ref _state);

    /// <summary>Handles one control command chain: reads it, applies it or refuses it, writes the ack.</summary>
    /// <param name="chain">A chain popped from the control queue; the caller pushes it as used with <see cref="ControlResult.WrittenLength"/>.</param>
    /// <returns>The outcome.</returns>
    /// <exception cref="InvalidOperationException">The chain was already pushed as used.</exception>
    public ControlResult Handle(in DescriptorChain chain)
    {
        if (chain.WritableLength == 0)
        {
            // No room for the ack: the driver cannot learn the outcome, so nothing is applied.
            return new ControlResult(0, ControlAck.Err, NetControlError.NoWritableByte, 0, stateChanged: false);
        }

        Span<byte> response = stackalloc byte[ResponseBufferLength];
        int responseCapacity = (int)Math.Min(chain.WritableLength, (uint)ResponseBufferLength);
        uint readable = chain.ReadableLength;
        lock (_gate)
        {
            NetControlCommandId id = 0;
            NetControlError error;
            int resultLength = 0;
            NetControlState? next = null;
            if (readable < HeaderLength)
            {
                error = NetControlError.Truncated;
            }
            else if (readable <= (uint)_scratch.Length)
            {
                // One gather: every decision below uses this copy, never guest memory again.
                int n = chain.CopyFromReadable(0, _scratch.AsSpan(0, (int)readable));
                ReadOnlySpan<byte> command = _scratch.AsSpan(0, n);
                id = (NetControlCommandId)BinaryPrimitives.ReadUInt16BigEndian(command);
                error = Decode(command, response.Slice(1, responseCapacity - 1), out resultLength, out next);
            }
            else
            {
                chain.CopyFromReadable(0, _scratch.AsSpan(0, HeaderLength));
                id = (NetControlCommandId)BinaryPrimitives.ReadUInt16BigEndian(_scratch);
                error = id == NetControlCommandId.MacTableSet
                    ? DecodeLargeMacTable(chain, readable, out next)
                    : NetControlError.TooLarge;
            }

            return Complete(chain, id, error, resultLength, next, response);
        }
    }

    /// <summary>Handles one command held in ordinary memory (the same rules as for a chain).</summary>
    /// <param name="command">Class, command and command-specific data.</param>
    /// <param name="response">The device-writable part: the ack, then any command-specific result.</param>
    /// <returns>The outcome; <see cref="ControlResult.WrittenLength"/> bytes of <paramref name="response"/> were written.</returns>
    public ControlResult Handle(ReadOnlySpan<byte> command, Span<byte> response)
    {
        if (response.IsEmpty)
        {
            return new ControlResult(0, ControlAck.Err, NetControlError.NoWritableByte, 0, stateChanged: false);
        }

        lock (_gate)
        {
            NetControlCommandId id = 0;
            NetControlError error;
            int resultLength = 0;
            NetControlState? next = null;
            Span<byte> result = response.Slice(1, Math.Min(response.Length, ResponseBufferLength) - 1);
            if (command.Length < HeaderLength)
            {
                error = NetControlError.Truncated;
            }
            else
            {
                id = (NetControlCommandId)BinaryPrimitives.ReadUInt16BigEndian(command);
                error = Decode(command, result, out resultLength, out next);
            }

            bool changed = Publish(error, next);
            response[0] = (byte)(error == NetControlError.None ? ControlAck.Ok : ControlAck.Err);
            uint written = error == NetControlError.None ? (uint)(1 + resultLength) : 1u;
            return new ControlResult(id, (ControlAck)response[0], error, written, changed);
        }
    }

    /// <summary>
    /// Pops every available chain of the control queue (at most its size per call, so a hostile
    /// driver cannot keep the caller here), handles each, pushes them as used and publishes once.
    /// The caller then asks the queue whether to notify the driver.
    /// </summary>
    /// <param name="queue">The control virtqueue.</param>
    /// <returns>The number of commands handled.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="queue"/> is null.</exception>
    public int ProcessAvailable(IDeviceQueue queue)
    {
        if (queue is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(queue));
        }

        int handled = 0;
        while (handled < queue.Size && queue.TryPopAvailable(out DescriptorChain chain) == PopStatus.Popped)
        {
            ControlResult result = Handle(chain);
            queue.PushUsed(chain, result.WrittenLength);
            handled++;
        }

        if (handled > 0)
        {
            queue.PublishUsed();
        }

        return handled;
    }

    /// <summary>
    /// Device side: asks the driver to announce itself (after a migration). The engine sets
    /// <c>VIRTIO_NET_S_ANNOUNCE</c> in the config status and sends a config-change notification;
    /// the driver's <c>ANNOUNCE_ACK</c> clears the pending flag (§5.1.6.5.4).
    /// </summary>
    /// <returns><see langword="false"/> when <c>VIRTIO_NET_F_GUEST_ANNOUNCE</c> was not negotiated (nothing changes).</returns>
    public bool RequestAnnounce()
    {
        if ((NegotiatedFeatures & (NetFeatures.GuestAnnounce | NetFeatures.CtrlVq)) != (NetFeatures.GuestAnnounce | NetFeatures.CtrlVq))
        {
            return false;
        }

        lock (_gate)
        {
            NetControlState next = _state.CloneForUpdate();
            next._announcePending = true;
            Volatile.Write(ref _state, next);
        }

        return true;
    }

    /// <summary>Returns to the reset state (a device reset).</summary>
    public void Reset()
    {
        lock (_gate)
        {
            Volatile.Write(ref _state, new NetControlState(NegotiatedFeatures, Limits));
        }
    }

    private const int ResponseBufferLength = 1 + NotificationCoalescing.Length;

    private static int ComputeMaxCommandLength(NetFeatures features, NetControlLimits limits)
    {
        // The longest valid data of each command (§5.1.6.5): a readable part longer than all of them
        // can only be refused, except a MAC table set (read piecewise when its tables overflow).
        int max = 12; // NOTF_COAL_VQ_SET
        max = Math.Max(max, 8 + (12 * limits.MaxMacTableEntries));
        if ((features & NetFeatures.Rss) != 0)
        {
            max = Math.Max(max, 8 + (2 * limits.RssMaxIndirectionTableLength) + 3 + limits.RssMaxKeySize);
        }

        if ((features & NetFeatures.HashReport) != 0)
        {
            max = Math.Max(max, 13 + limits.RssMaxKeySize);
        }

        return HeaderLength + max;
    }

    private ControlResult Complete(in DescriptorChain chain, NetControlCommandId id, NetControlError error, int resultLength,
        NetControlState? next, Span<byte> response)
    {
        bool changed = Publish(error, next);
        response[0] = (byte)(error == NetControlError.None ? ControlAck.Ok : ControlAck.Err);
        int length = error == NetControlError.None ? 1 + resultLength : 1;
        uint written = (uint)chain.CopyToWritable(0, response.Slice(0, length));
        return new ControlResult(id, (ControlAck)response[0], error, written, changed);
    }

    private bool Publish(NetControlError error, NetControlState? next)
    {
        if (error != NetControlError.None || next is null)
        {
            return false;
        }

        // Release: a receive path that reads the new reference sees every field written before.
        Volatile.Write(ref _state, next);
        return true;
    }
}
