using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Threading;
using VirtioRing.Memory;
using VirtioRing.Net.Control;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Queues;

namespace VirtioRing.Net.Driver;

public sealed unsafe partial class NetDriver
{
    private NetDriverControlQueue? _control;
    private ushort[] _tableScratch = [];

    /// <summary>Gets whether the control queue is there (<c>VIRTIO_NET_F_CTRL_VQ</c> negotiated and bound).</summary>
    public bool HasControlQueue => _control is not null;

    /// <summary>Sets the number of active queue pairs (<c>VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET</c>, §5.1.6.5.6); on OK the transmit selector uses the new count.</summary>
    /// <param name="pairs">1 to <see cref="QueuePairs"/>.</param>
    /// <returns>The device's answer.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pairs"/> is out of range.</exception>
    /// <exception cref="InvalidOperationException">No control queue, or <c>MQ</c> was not negotiated.</exception>
    /// <exception cref="NetDriverException">The device did not answer in time, or broke the control queue.</exception>
    public ControlAck SetQueuePairs(int pairs)
    {
        RequireFeature(NetFeatures.Mq, "VIRTIO_NET_F_MQ");
        if (pairs < 1 || pairs > QueuePairs)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(pairs), "1 to the bound queue pairs.");
        }

        NetDriverControlQueue c = Control();
        ControlAck ack = Execute(c, NetControlEncoder.WriteQueuePairs(Command(c), (ushort)pairs));
        if (ack == ControlAck.Ok)
        {
            Volatile.Write(ref _activePairs, pairs);
        }

        return ack;
    }

    /// <summary>
    /// Changes only the driver's view of the active pairs (the transmit selector spreads over them),
    /// without a control command: for a device whose pairs the host changed through its own API, or a
    /// device without a control queue that the caller configured otherwise.
    /// </summary>
    /// <param name="pairs">1 to <see cref="QueuePairs"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pairs"/> is out of range.</exception>
    public void UseQueuePairs(int pairs)
    {
        if (pairs < 1 || pairs > QueuePairs)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(pairs), "1 to the bound queue pairs.");
        }

        Volatile.Write(ref _activePairs, pairs);
    }

    /// <summary>
    /// Configures receive-side scaling (<c>VIRTIO_NET_CTRL_MQ_RSS_CONFIG</c>, §5.1.6.5.7) and the transmit
    /// queues the driver uses (<c>max_tx_vq</c>); on OK the transmit selector spreads over <paramref name="transmitPairs"/>.
    /// </summary>
    /// <param name="rss">The hash types, key, indirection table and unclassified queue.</param>
    /// <param name="transmitPairs">The transmit queues to use (<c>max_tx_vq</c>); 0 keeps <see cref="ActivePairs"/>.</param>
    /// <returns>The device's answer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="rss"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="transmitPairs"/> is out of range.</exception>
    /// <exception cref="ArgumentException">The configuration does not fit the command buffer.</exception>
    /// <exception cref="InvalidOperationException">No control queue, or <c>RSS</c> was not negotiated.</exception>
    /// <exception cref="NetDriverException">The device did not answer in time, or broke the control queue.</exception>
    public ControlAck SetRss(RssConfiguration rss, int transmitPairs = 0)
    {
        if (rss is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(rss));
        }

        RequireFeature(NetFeatures.Rss, "VIRTIO_NET_F_RSS");
        if (transmitPairs < 0 || transmitPairs > QueuePairs)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(transmitPairs));
        }

        int tx = transmitPairs == 0 ? _activePairs : transmitPairs;
        IReadOnlyList<ushort> table = rss.IndirectionTable;
        if (_tableScratch.Length < table.Count)
        {
            _tableScratch = new ushort[table.Count];   // control path: grows once to the largest table
        }

        for (int i = 0; i < table.Count; i++)
        {
            _tableScratch[i] = table[i];
        }

        NetDriverControlQueue c = Control();
        int length = NetControlEncoder.WriteRssConfig(Command(c), rss.HashTypes, new ReadOnlySpan<ushort>(_tableScratch, 0, table.Count),
            rss.UnclassifiedQueue, (ushort)tx, rss.Key.Span);
        ControlAck ack = Execute(c, length);
        if (ack == ControlAck.Ok)
        {
            Volatile.Write(ref _activePairs, tx);
        }

        return ack;
    }

    /// <summary>Turns a receive mode on or off (<c>VIRTIO_NET_CTRL_RX</c>, §5.1.6.5.1): promiscuous, all-multicast, and with <c>CTRL_RX_EXTRA</c> the others.</summary>
    /// <param name="mode">Exactly one mode.</param>
    /// <param name="on">On or off.</param>
    /// <returns>The device's answer.</returns>
    /// <exception cref="ArgumentException"><paramref name="mode"/> is not a single mode.</exception>
    /// <exception cref="InvalidOperationException">No control queue, or <c>CTRL_RX</c> was not negotiated.</exception>
    /// <exception cref="NetDriverException">The device did not answer in time, or broke the control queue.</exception>
    public ControlAck SetRxMode(NetRxMode mode, bool on)
    {
        RequireFeature(NetFeatures.CtrlRx, "VIRTIO_NET_F_CTRL_RX");
        NetDriverControlQueue c = Control();
        return Execute(c, NetControlEncoder.WriteRxMode(Command(c), mode, on));
    }

    /// <summary>Sets the unicast and multicast MAC filter tables (<c>VIRTIO_NET_CTRL_MAC_TABLE_SET</c>, §5.1.6.5.2).</summary>
    /// <param name="unicast">The unicast addresses to accept.</param>
    /// <param name="multicast">The multicast addresses to accept.</param>
    /// <returns>The device's answer.</returns>
    /// <exception cref="ArgumentException">The tables do not fit the command buffer.</exception>
    /// <exception cref="InvalidOperationException">No control queue, or <c>CTRL_RX</c> was not negotiated.</exception>
    /// <exception cref="NetDriverException">The device did not answer in time, or broke the control queue.</exception>
    public ControlAck SetMacTable(ReadOnlySpan<MacAddress> unicast, ReadOnlySpan<MacAddress> multicast)
    {
        RequireFeature(NetFeatures.CtrlRx, "VIRTIO_NET_F_CTRL_RX");
        NetDriverControlQueue c = Control();
        return Execute(c, NetControlEncoder.WriteMacTable(Command(c), unicast, multicast));
    }

    /// <summary>Sets the device's default MAC address (<c>VIRTIO_NET_CTRL_MAC_ADDR_SET</c>, §5.1.6.5.2).</summary>
    /// <param name="address">The address.</param>
    /// <returns>The device's answer.</returns>
    /// <exception cref="InvalidOperationException">No control queue, or <c>CTRL_MAC_ADDR</c> was not negotiated.</exception>
    /// <exception cref="NetDriverException">The device did not answer in time, or broke the control queue.</exception>
    public ControlAck SetMacAddress(MacAddress address)
    {
        RequireFeature(NetFeatures.CtrlMacAddr, "VIRTIO_NET_F_CTRL_MAC_ADDR");
        NetDriverControlQueue c = Control();
        return Execute(c, NetControlEncoder.WriteMacAddress(Command(c), address));
    }

    /// <summary>Adds or removes a VLAN id in the device's filter (<c>VIRTIO_NET_CTRL_VLAN</c>, §5.1.6.5.3).</summary>
    /// <param name="add">Add, or remove.</param>
    /// <param name="vlanId">The VLAN id, below 4096.</param>
    /// <returns>The device's answer.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vlanId"/> is 4096 or more.</exception>
    /// <exception cref="InvalidOperationException">No control queue, or <c>CTRL_VLAN</c> was not negotiated.</exception>
    /// <exception cref="NetDriverException">The device did not answer in time, or broke the control queue.</exception>
    public ControlAck SetVlan(bool add, ushort vlanId)
    {
        RequireFeature(NetFeatures.CtrlVlan, "VIRTIO_NET_F_CTRL_VLAN");
        NetDriverControlQueue c = Control();
        return Execute(c, NetControlEncoder.WriteVlan(Command(c), add, vlanId));
    }

    /// <summary>Sets the receive offloads the device may use (<c>VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET</c>, §5.1.6.5.8).</summary>
    /// <param name="offloads">Negotiated guest offload features to enable.</param>
    /// <returns>The device's answer.</returns>
    /// <exception cref="InvalidOperationException">No control queue, or <c>CTRL_GUEST_OFFLOADS</c> was not negotiated.</exception>
    /// <exception cref="NetDriverException">The device did not answer in time, or broke the control queue.</exception>
    public ControlAck SetGuestOffloads(NetFeatures offloads)
    {
        RequireFeature(NetFeatures.CtrlGuestOffloads, "VIRTIO_NET_F_CTRL_GUEST_OFFLOADS");
        NetDriverControlQueue c = Control();
        return Execute(c, NetControlEncoder.WriteGuestOffloads(Command(c), offloads));
    }

    /// <summary>Acknowledges an announce request (<c>VIRTIO_NET_CTRL_ANNOUNCE_ACK</c>, §5.1.6.5.4).</summary>
    /// <returns>The device's answer.</returns>
    /// <exception cref="InvalidOperationException">No control queue, or <c>GUEST_ANNOUNCE</c> was not negotiated.</exception>
    /// <exception cref="NetDriverException">The device did not answer in time, or broke the control queue.</exception>
    public ControlAck AcknowledgeAnnounce()
    {
        RequireFeature(NetFeatures.GuestAnnounce, "VIRTIO_NET_F_GUEST_ANNOUNCE");
        NetDriverControlQueue c = Control();
        return Execute(c, NetControlEncoder.WriteAnnounceAck(Command(c)));
    }

    /// <summary>Sends a command already encoded (class, command, data; e.g. by <see cref="NetControlEncoder"/>) and waits for the ack.</summary>
    /// <param name="command">The device-readable bytes.</param>
    /// <returns>The device's answer.</returns>
    /// <exception cref="ArgumentException"><paramref name="command"/> is shorter than 2 bytes or longer than the command buffer.</exception>
    /// <exception cref="InvalidOperationException">No control queue.</exception>
    /// <exception cref="NetDriverException">The device did not answer in time, or broke the control queue.</exception>
    public ControlAck SendControlCommand(ReadOnlySpan<byte> command)
    {
        NetDriverControlQueue c = Control();
        if (command.Length < NetControlEncoder.HeaderLength || command.Length > c.ResponseOffset)
        {
            ThrowHelper.ThrowArgument(nameof(command), "A command is 2 bytes or more and fits the command buffer.");
        }

        command.CopyTo(Command(c));
        return Execute(c, command.Length);
    }

    private static Span<byte> Command(NetDriverControlQueue c) => new(c.Host, c.ResponseOffset);

    private NetDriverControlQueue Control()
    {
        RequireBound();
        if (_control is not { } c)
        {
            ThrowHelper.ThrowInvalidOperation("There is no control queue (VIRTIO_NET_F_CTRL_VQ was not negotiated).");
            return null!;
        }

        if (c.CheckBroken())
        {
            ThrowDriver(c.Fault, "The control queue is faulted: " + c.Fault + ".");
        }

        return c;
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowDriver(NetDriverFault fault, string message) => throw new NetDriverException(fault, message);

    private void RequireFeature(NetFeatures feature, string name)
    {
        if ((NegotiatedFeatures & feature) == 0)
        {
            ThrowHelper.ThrowInvalidOperation(name + " was not negotiated.");
        }
    }

    /// <summary>The timestamp after which a command has timed out; saturates at <see cref="long.MaxValue"/> (never), so
    /// <see cref="TimeSpan.MaxValue"/> or any timeout too long for the clock waits for ever instead of overflowing into the past.</summary>
    private static long Deadline(long now, TimeSpan timeout)
    {
        double ticks = timeout.TotalSeconds * Stopwatch.Frequency;
        const long Half = long.MaxValue / 2;   // both halves below it: the sum cannot overflow (2^62 ns is 146 years)
        return ticks >= Half || now >= Half ? long.MaxValue : now + (long)ticks;
    }

    /// <summary>Adds the command and the ack buffer, kicks, and waits for the device to use them.</summary>
    private ControlAck Execute(NetDriverControlQueue c, int commandLength)
    {
        byte* response = c.Host + c.ResponseOffset;
        *response = 0xFF;   // not an ack value: a device that "writes" nothing reads as ERR
        NetControlEncoder.ToSegments(new GuestAddress(c.Guest), commandLength, new GuestAddress(c.Guest + (ulong)c.ResponseOffset),
            NetControlEncoder.AckLength, c.Segments);
        ulong token = c.NextToken++;
        if (!c.Queue.TryAddChain(c.Segments, token))
        {
            ThrowDriver(NetDriverFault.QueueBroken, "The control queue has no free descriptor (a command is still outstanding).");
        }

        c.Queue.PublishAvailable();
        if (c.Queue.ShouldNotifyDevice())
        {
            c.Kicks++;
            c.Kick?.Notify();
        }

        long deadline = Deadline(Stopwatch.GetTimestamp(), _options.ControlTimeout);
        var spin = default(SpinWait);
        while (true)
        {
            switch (c.Queue.TryReclaimUsed(out UsedBuffer used))
            {
                case PopStatus.Popped:
                    if (used.Token != token)
                    {
                        continue;   // a late answer to a command that timed out before
                    }

                    c.Packets++;
                    c.Bytes += (ulong)commandLength;
                    ControlAck ack = NetControlEncoder.ReadAck(new ReadOnlySpan<byte>(response, 1), used.WrittenLength);
                    if (ack != ControlAck.Ok)
                    {
                        c.Errors++;
                    }

                    return ack;
                case PopStatus.Broken:
                    c.CheckBroken();
                    ThrowDriver(NetDriverFault.QueueBroken, "The device broke the control queue: " + c.Queue.Fault + ".");
                    break;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                c.Fault = NetDriverFault.ControlTimeout;
                ThrowDriver(NetDriverFault.ControlTimeout, "The device did not answer the control command in time.");
            }

            spin.SpinOnce();   // spins, then yields the thread, then sleeps briefly
        }
    }
}
