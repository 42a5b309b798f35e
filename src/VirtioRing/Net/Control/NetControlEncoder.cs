using VirtioRing.Net;
using System;
using System.Buffers.Binary;
using VirtioRing.Memory;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Queues;

namespace VirtioRing.Net.Control;

/// <summary>
/// The driver side of the control virtqueue (virtio 1.2 §5.1.6.5): builds
/// <c>struct virtio_net_ctrl { u8 class; u8 command; u8 command-specific-data[]; }</c> into caller
/// bytes (the device-readable part), turns it and the ack buffer into a chain, and reads the ack
/// (and the result of <c>NOTF_COAL_VQ_GET</c>) the device wrote. Multi-byte fields are little-endian.
/// Each <c>Write…</c> returns the readable length and throws when the caller passes bad arguments.
/// </summary>
public static class NetControlEncoder
{
    /// <summary>The class and command bytes in front of every command.</summary>
    public const int HeaderLength = 2;

    /// <summary>The device-writable length for every command but <c>NOTF_COAL_VQ_GET</c>: the ack byte.</summary>
    public const int AckLength = 1;

    /// <summary>The device-writable length for <c>NOTF_COAL_VQ_GET</c>: the ack and <c>virtio_net_ctrl_coal</c>.</summary>
    public const int QueueCoalescingGetResponseLength = AckLength + NotificationCoalescing.Length;

    /// <summary>Writes an RX mode command (§5.1.6.5.1): one mode on or off.</summary>
    /// <param name="destination">At least 3 bytes.</param>
    /// <param name="mode">Exactly one mode flag (its bit number is the command number).</param>
    /// <param name="on">On (1) or off (0).</param>
    /// <returns>3.</returns>
    /// <exception cref="ArgumentException"><paramref name="mode"/> is not a single known flag, or <paramref name="destination"/> is too short.</exception>
    public static int WriteRxMode(Span<byte> destination, NetRxMode mode, bool on)
    {
        int bits = (int)mode;
        if (bits == 0 || (bits & (bits - 1)) != 0 || bits > (int)NetRxMode.NoBroadcast)
        {
            ThrowHelper.ThrowArgument(nameof(mode), "Give exactly one receive mode.");
        }

        int command = 0;
        while ((bits >>= 1) != 0)
        {
            command++;
        }

        Span<byte> d = Header(destination, (NetControlCommandId)command, 1);
        d[0] = on ? (byte)1 : (byte)0;
        return HeaderLength + 1;
    }

    /// <summary>Gets the readable length of a <c>MAC_TABLE_SET</c> with the given table sizes.</summary>
    /// <param name="unicastCount">Unicast addresses.</param>
    /// <param name="multicastCount">Multicast addresses.</param>
    /// <returns>The length in bytes.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A count is negative or the total does not fit an int.</exception>
    public static int GetMacTableLength(int unicastCount, int multicastCount)
    {
        if (unicastCount < 0 || multicastCount < 0)
        {
            ThrowHelper.ThrowArgumentOutOfRange(unicastCount < 0 ? nameof(unicastCount) : nameof(multicastCount));
        }

        long length = HeaderLength + 8 + (6L * unicastCount) + (6L * multicastCount);
        if (length > int.MaxValue)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(unicastCount), "The table does not fit a buffer.");
        }

        return (int)length;
    }

    /// <summary>Writes <c>MAC_TABLE_SET</c> (§5.1.6.5.2): two <c>virtio_net_ctrl_mac</c>, unicast then multicast.</summary>
    /// <param name="destination">At least <see cref="GetMacTableLength"/> bytes.</param>
    /// <param name="unicast">The unicast addresses.</param>
    /// <param name="multicast">The multicast addresses.</param>
    /// <returns>The readable length.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static int WriteMacTable(Span<byte> destination, ReadOnlySpan<MacAddress> unicast, ReadOnlySpan<MacAddress> multicast)
    {
        int length = GetMacTableLength(unicast.Length, multicast.Length);
        Span<byte> d = Header(destination, NetControlCommandId.MacTableSet, length - HeaderLength);
        d = WriteMacList(d, unicast);
        WriteMacList(d, multicast);
        return length;
    }

    /// <summary>Writes <c>MAC_ADDR_SET</c> (§5.1.6.5.2): the default address.</summary>
    /// <param name="destination">At least 8 bytes.</param>
    /// <param name="address">The address.</param>
    /// <returns>8.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static int WriteMacAddress(Span<byte> destination, MacAddress address)
    {
        address.WriteTo(Header(destination, NetControlCommandId.MacAddressSet, MacAddress.Length));
        return HeaderLength + MacAddress.Length;
    }

    /// <summary>Writes <c>VLAN_ADD</c> or <c>VLAN_DEL</c> (§5.1.6.5.3).</summary>
    /// <param name="destination">At least 4 bytes.</param>
    /// <param name="add"><see langword="true"/> to add, <see langword="false"/> to remove.</param>
    /// <param name="vlanId">The VLAN id, below 4096.</param>
    /// <returns>4.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vlanId"/> is 4096 or more.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static int WriteVlan(Span<byte> destination, bool add, ushort vlanId)
    {
        if (vlanId >= 4096)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(vlanId), "A VLAN id has 12 bits.");
        }

        Span<byte> d = Header(destination, add ? NetControlCommandId.VlanAdd : NetControlCommandId.VlanDelete, 2);
        BinaryPrimitives.WriteUInt16LittleEndian(d, vlanId);
        return HeaderLength + 2;
    }

    /// <summary>Writes <c>ANNOUNCE_ACK</c> (§5.1.6.5.4), which has no data.</summary>
    /// <param name="destination">At least 2 bytes.</param>
    /// <returns>2.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static int WriteAnnounceAck(Span<byte> destination)
    {
        Header(destination, NetControlCommandId.AnnounceAck, 0);
        return HeaderLength;
    }

    /// <summary>Writes <c>MQ_VQ_PAIRS_SET</c> (§5.1.6.5.6).</summary>
    /// <param name="destination">At least 4 bytes.</param>
    /// <param name="queuePairs">1..0x8000 (and at most the device's <c>max_virtqueue_pairs</c>).</param>
    /// <returns>4.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="queuePairs"/> is 0 or above 0x8000.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static int WriteQueuePairs(Span<byte> destination, ushort queuePairs)
    {
        if (queuePairs < 1 || queuePairs > NetControlLimits.MaxQueuePairsLimit)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(queuePairs), "virtqueue_pairs is 1..0x8000.");
        }

        BinaryPrimitives.WriteUInt16LittleEndian(Header(destination, NetControlCommandId.MqQueuePairsSet, 2), queuePairs);
        return HeaderLength + 2;
    }

    /// <summary>Gets the readable length of <c>MQ_RSS_CONFIG</c>.</summary>
    /// <param name="indirectionTableLength">Entries in the table.</param>
    /// <param name="keyLength">Key bytes.</param>
    /// <returns>The length in bytes.</returns>
    public static int GetRssConfigLength(int indirectionTableLength, int keyLength) =>
        HeaderLength + 8 + (2 * indirectionTableLength) + 3 + keyLength;

    /// <summary>Writes <c>MQ_RSS_CONFIG</c> (§5.1.6.5.7).</summary>
    /// <param name="destination">At least <see cref="GetRssConfigLength"/> bytes.</param>
    /// <param name="hashTypes">The hash types to enable.</param>
    /// <param name="indirectionTable">Receive-queue numbers (0 = receiveq1, the <c>rss_rq_id</c> value); length a power of two, at most 65536.</param>
    /// <param name="unclassifiedQueue">The receive-queue number for frames without a hash.</param>
    /// <param name="maxTxQueues"><c>max_tx_vq</c>: the transmit queues the driver may use.</param>
    /// <param name="key">The Toeplitz key, at most 255 bytes.</param>
    /// <returns>The readable length.</returns>
    /// <exception cref="ArgumentException">The table length is not a power of two, a queue number has the reserved bit 15, the key is too long, or <paramref name="destination"/> is too short.</exception>
    public static int WriteRssConfig(Span<byte> destination, NetHashTypes hashTypes, ReadOnlySpan<ushort> indirectionTable,
        ushort unclassifiedQueue, ushort maxTxQueues, ReadOnlySpan<byte> key)
    {
        int entries = indirectionTable.Length;
        if (entries == 0 || entries > 65536 || (entries & (entries - 1)) != 0)
        {
            ThrowHelper.ThrowArgument(nameof(indirectionTable), "The indirection table length must be a power of two up to 65536.");
        }

        if (key.Length > byte.MaxValue)
        {
            ThrowHelper.ThrowArgument(nameof(key), "hash_key_length is a u8.");
        }

        if (unclassifiedQueue >= 0x8000)
        {
            ThrowHelper.ThrowArgument(nameof(unclassifiedQueue), "Bit 15 of an rss_rq_id is reserved.");
        }

        int length = GetRssConfigLength(entries, key.Length);
        Span<byte> d = Header(destination, NetControlCommandId.MqRssConfig, length - HeaderLength);
        BinaryPrimitives.WriteUInt32LittleEndian(d, (uint)hashTypes);
        BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(4), (ushort)(entries - 1));
        BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(6), unclassifiedQueue);
        for (int i = 0; i < entries; i++)
        {
            if (indirectionTable[i] >= 0x8000)
            {
                ThrowHelper.ThrowArgument(nameof(indirectionTable), "Bit 15 of an rss_rq_id is reserved.");
            }

            BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(8 + (2 * i)), indirectionTable[i]);
        }

        int at = 8 + (2 * entries);
        BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(at), maxTxQueues);
        d[at + 2] = (byte)key.Length;
        key.CopyTo(d.Slice(at + 3));
        return length;
    }

    /// <summary>Gets the readable length of <c>MQ_HASH_CONFIG</c>.</summary>
    /// <param name="keyLength">Key bytes.</param>
    /// <returns>The length in bytes.</returns>
    public static int GetHashConfigLength(int keyLength) => HeaderLength + 13 + keyLength;

    /// <summary>Writes <c>MQ_HASH_CONFIG</c> (§5.1.6.5.6.4): hash types, four zero reserved words, the key.</summary>
    /// <param name="destination">At least <see cref="GetHashConfigLength"/> bytes.</param>
    /// <param name="hashTypes">The hash types to calculate and report.</param>
    /// <param name="key">The Toeplitz key, at most 255 bytes.</param>
    /// <returns>The readable length.</returns>
    /// <exception cref="ArgumentException">The key is too long or <paramref name="destination"/> is too short.</exception>
    public static int WriteHashConfig(Span<byte> destination, NetHashTypes hashTypes, ReadOnlySpan<byte> key)
    {
        if (key.Length > byte.MaxValue)
        {
            ThrowHelper.ThrowArgument(nameof(key), "hash_key_length is a u8.");
        }

        int length = GetHashConfigLength(key.Length);
        Span<byte> d = Header(destination, NetControlCommandId.MqHashConfig, length - HeaderLength);
        BinaryPrimitives.WriteUInt32LittleEndian(d, (uint)hashTypes);
        d.Slice(4, 8).Clear();
        d[12] = (byte)key.Length;
        key.CopyTo(d.Slice(13));
        return length;
    }

    /// <summary>Writes <c>GUEST_OFFLOADS_SET</c> (§5.1.6.5.8).</summary>
    /// <param name="destination">At least 10 bytes.</param>
    /// <param name="offloads">The guest offload feature bits to enable (only negotiated ones are accepted).</param>
    /// <returns>10.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static int WriteGuestOffloads(Span<byte> destination, NetFeatures offloads)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(Header(destination, NetControlCommandId.GuestOffloadsSet, 8), (ulong)offloads);
        return HeaderLength + 8;
    }

    /// <summary>Writes <c>NOTF_COAL_TX_SET</c> or <c>NOTF_COAL_RX_SET</c> (§5.1.6.5.9).</summary>
    /// <param name="destination">At least 10 bytes.</param>
    /// <param name="transmit"><see langword="true"/> for all transmit queues, <see langword="false"/> for all receive queues.</param>
    /// <param name="coalescing">The parameters.</param>
    /// <returns>10.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static int WriteCoalescing(Span<byte> destination, bool transmit, NotificationCoalescing coalescing)
    {
        Span<byte> d = Header(destination, transmit ? NetControlCommandId.CoalescingTxSet : NetControlCommandId.CoalescingRxSet, 8);
        WriteCoal(d, coalescing);
        return HeaderLength + 8;
    }

    /// <summary>Writes <c>NOTF_COAL_VQ_SET</c> (§5.1.6.5.9): one queue's parameters.</summary>
    /// <param name="destination">At least 14 bytes.</param>
    /// <param name="queueIndex">The virtqueue index of an enabled transmit or receive queue.</param>
    /// <param name="coalescing">The parameters.</param>
    /// <returns>14.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static int WriteQueueCoalescingSet(Span<byte> destination, ushort queueIndex, NotificationCoalescing coalescing)
    {
        Span<byte> d = Header(destination, NetControlCommandId.CoalescingQueueSet, 12);
        BinaryPrimitives.WriteUInt16LittleEndian(d, queueIndex);
        BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(2), 0);
        WriteCoal(d.Slice(4), coalescing);
        return HeaderLength + 12;
    }

    /// <summary>Writes <c>NOTF_COAL_VQ_GET</c> (§5.1.6.5.9); give it <see cref="QueueCoalescingGetResponseLength"/> writable bytes.</summary>
    /// <param name="destination">At least 6 bytes.</param>
    /// <param name="queueIndex">The virtqueue index of an enabled transmit or receive queue.</param>
    /// <returns>6.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public static int WriteQueueCoalescingGet(Span<byte> destination, ushort queueIndex)
    {
        Span<byte> d = Header(destination, NetControlCommandId.CoalescingQueueGet, 4);
        BinaryPrimitives.WriteUInt16LittleEndian(d, queueIndex);
        BinaryPrimitives.WriteUInt16LittleEndian(d.Slice(2), 0);
        return HeaderLength + 4;
    }

    /// <summary>Reads the ack the device wrote.</summary>
    /// <param name="response">The device-writable buffer.</param>
    /// <param name="writtenLength">The used length the device reported.</param>
    /// <returns><see cref="ControlAck.Ok"/> only when the device wrote a 0 ack; anything else (no byte written, 1, or an unknown value) is <see cref="ControlAck.Err"/>.</returns>
    public static ControlAck ReadAck(ReadOnlySpan<byte> response, uint writtenLength) =>
        writtenLength >= AckLength && !response.IsEmpty && response[0] == (byte)ControlAck.Ok ? ControlAck.Ok : ControlAck.Err;

    /// <summary>Reads the result of <c>NOTF_COAL_VQ_GET</c>.</summary>
    /// <param name="response">The device-writable buffer (ack, then <c>virtio_net_ctrl_coal</c>).</param>
    /// <param name="writtenLength">The used length the device reported.</param>
    /// <param name="coalescing">The parameters, when the result is <see langword="true"/>.</param>
    /// <returns><see langword="false"/> when the device answered ERR or wrote too little (§5.1.6.5.9: ignore the values then).</returns>
    public static bool TryReadQueueCoalescing(ReadOnlySpan<byte> response, uint writtenLength, out NotificationCoalescing coalescing)
    {
        coalescing = default;
        if (ReadAck(response, writtenLength) != ControlAck.Ok || writtenLength < QueueCoalescingGetResponseLength ||
            response.Length < QueueCoalescingGetResponseLength)
        {
            return false;
        }

        coalescing = new NotificationCoalescing(
            BinaryPrimitives.ReadUInt32LittleEndian(response.Slice(1)),
            BinaryPrimitives.ReadUInt32LittleEndian(response.Slice(5)));
        return true;
    }

    /// <summary>
    /// Describes a command as a chain for <see cref="IDriverQueue.TryAddChain"/>: one device-readable
    /// segment (the command) and one device-writable segment (the ack, and any result).
    /// </summary>
    /// <param name="command">Guest address of the command bytes.</param>
    /// <param name="commandLength">The readable length a <c>Write…</c> method returned.</param>
    /// <param name="response">Guest address of the ack buffer.</param>
    /// <param name="responseLength"><see cref="AckLength"/>, or <see cref="QueueCoalescingGetResponseLength"/> for <c>VQ_GET</c>.</param>
    /// <param name="segments">At least 2 entries.</param>
    /// <returns>2: the number of segments written.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A length is not positive.</exception>
    /// <exception cref="ArgumentException"><paramref name="segments"/> has fewer than 2 entries.</exception>
    public static int ToSegments(GuestAddress command, int commandLength, GuestAddress response, int responseLength, Span<BufferSegment> segments)
    {
        if (commandLength < HeaderLength)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(commandLength));
        }

        if (responseLength < AckLength)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(responseLength));
        }

        if (segments.Length < 2)
        {
            ThrowHelper.ThrowArgument(nameof(segments), "A control command takes two segments.");
        }

        segments[0] = BufferSegment.Readable(command, (uint)commandLength);
        segments[1] = BufferSegment.Writable(response, (uint)responseLength);
        return 2;
    }

    private static Span<byte> Header(Span<byte> destination, NetControlCommandId id, int dataLength)
    {
        if (destination.Length < HeaderLength + dataLength)
        {
            ThrowHelper.ThrowArgument(nameof(destination), "The destination is too short for the command.");
        }

        destination[0] = (byte)((ushort)id >> 8);
        destination[1] = (byte)id;
        return destination.Slice(HeaderLength, dataLength);
    }

    private static Span<byte> WriteMacList(Span<byte> d, ReadOnlySpan<MacAddress> list)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, (uint)list.Length);
        for (int i = 0; i < list.Length; i++)
        {
            list[i].WriteTo(d.Slice(4 + (MacAddress.Length * i)));
        }

        return d.Slice(4 + (MacAddress.Length * list.Length));
    }

    private static void WriteCoal(Span<byte> d, NotificationCoalescing c)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, c.MaxPackets);
        BinaryPrimitives.WriteUInt32LittleEndian(d.Slice(4), c.MaxMicroseconds);
    }
}
