using VirtioRing.Net;
using System;
using System.Buffers.Binary;
using VirtioRing.Net.Multiqueue;
using VirtioRing.Queues;

namespace VirtioRing.Net.Control;

public sealed partial class NetControlHandler
{
    private const NetHashTypes DefinedHashTypes = (NetHashTypes)0x1FF; // VIRTIO_NET_HASH_TYPE_* bits 0..8 (§5.1.6.4.3.1)

    /// <summary>
    /// Decodes and validates one command against the current state. On success <paramref name="next"/>
    /// is the snapshot to publish (null when the command changes nothing, as <c>VQ_GET</c>); on error
    /// nothing was built. Data lengths must match exactly: trailing bytes are a malformed command.
    /// </summary>
    private NetControlError Decode(ReadOnlySpan<byte> command, Span<byte> result, out int resultLength, out NetControlState? next)
    {
        resultLength = 0;
        next = null;
        var cls = (NetControlClass)command[0];
        byte cmd = command[1];
        ReadOnlySpan<byte> data = command.Slice(HeaderLength);
        if ((NegotiatedFeatures & NetFeatures.CtrlVq) == 0)
        {
            return NetControlError.FeatureNotNegotiated;
        }

        return cls switch
        {
            NetControlClass.Rx => DecodeRx(cmd, data, out next),
            NetControlClass.Mac => DecodeMac(cmd, data, out next),
            NetControlClass.Vlan => DecodeVlan(cmd, data, out next),
            NetControlClass.Announce => DecodeAnnounce(cmd, data, out next),
            NetControlClass.Mq => DecodeMq(cmd, data, out next),
            NetControlClass.GuestOffloads => DecodeGuestOffloads(cmd, data, out next),
            NetControlClass.NotificationCoalescing => DecodeCoalescing(cmd, data, result, out resultLength, out next),
            _ => NetControlError.UnknownClass,
        };
    }

    // §5.1.6.5.1: PROMISC and ALLMULTI need CTRL_RX; ALLUNI, NOMULTI, NOUNI, NOBCAST need CTRL_RX_EXTRA.
    // The data is one byte, 0 (off) or 1 (on).
    private NetControlError DecodeRx(byte cmd, ReadOnlySpan<byte> data, out NetControlState? next)
    {
        next = null;
        if (cmd > 5)
        {
            return NetControlError.UnknownCommand;
        }

        NetFeatures needed = cmd <= 1 ? NetFeatures.CtrlRx : NetFeatures.CtrlRxExtra;
        if ((NegotiatedFeatures & needed) == 0)
        {
            return NetControlError.FeatureNotNegotiated;
        }

        if (data.Length != 1)
        {
            return NetControlError.BadLength;
        }

        if (data[0] > 1)
        {
            return NetControlError.InvalidValue;
        }

        var flag = (NetRxMode)(1 << cmd);
        next = _state.CloneForUpdate();
        next._rxMode = data[0] != 0 ? next._rxMode | flag : next._rxMode & ~flag;
        return NetControlError.None;
    }

    // §5.1.6.5.2: TABLE_SET = le32 entries, 6·entries bytes (unicast), le32 entries, 6·entries bytes
    // (multicast); ADDR_SET = 6 bytes. The class needs CTRL_RX; ADDR_SET is also taken with
    // CTRL_MAC_ADDR alone (the bit that advertises it, §5.1.3).
    private NetControlError DecodeMac(byte cmd, ReadOnlySpan<byte> data, out NetControlState? next)
    {
        next = null;
        if (cmd == 1)
        {
            if ((NegotiatedFeatures & (NetFeatures.CtrlRx | NetFeatures.CtrlMacAddr)) == 0)
            {
                return NetControlError.FeatureNotNegotiated;
            }

            if (data.Length != MacAddress.Length)
            {
                return NetControlError.BadLength;
            }

            next = _state.CloneForUpdate();
            next._primaryMac = MacAddress.ReadKey(data);
            return NetControlError.None;
        }

        if (cmd != 0)
        {
            return NetControlError.UnknownCommand;
        }

        if ((NegotiatedFeatures & NetFeatures.CtrlRx) == 0)
        {
            return NetControlError.FeatureNotNegotiated;
        }

        // Lengths in 64-bit: 6 × a guest le32 cannot overflow there.
        if (data.Length < 4)
        {
            return NetControlError.BadLength;
        }

        uint unicastCount = BinaryPrimitives.ReadUInt32LittleEndian(data);
        ulong multicastAt = 4 + (6UL * unicastCount);
        if (multicastAt + 4 > (ulong)data.Length)
        {
            return NetControlError.BadLength;
        }

        uint multicastCount = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice((int)multicastAt));
        if (multicastAt + 4 + (6UL * multicastCount) != (ulong)data.Length)
        {
            return NetControlError.BadLength;
        }

        ReadOnlySpan<byte> unicast = data.Slice(4, 6 * (int)unicastCount);
        ReadOnlySpan<byte> multicast = data.Slice((int)multicastAt + 4);
        next = WithMacTables(unicastCount, unicast, multicastCount, multicast);
        return NetControlError.None;
    }

    /// <summary>A MAC_TABLE_SET longer than the gather buffer: counts read once, addresses only when kept.</summary>
    private NetControlError DecodeLargeMacTable(in DescriptorChain chain, uint readable, out NetControlState? next)
    {
        next = null;
        if ((NegotiatedFeatures & (NetFeatures.CtrlVq | NetFeatures.CtrlRx)) != (NetFeatures.CtrlVq | NetFeatures.CtrlRx))
        {
            return NetControlError.FeatureNotNegotiated;
        }

        Span<byte> word = stackalloc byte[4];
        ulong dataLength = readable - (ulong)HeaderLength;
        if (dataLength < 4 || chain.CopyFromReadable(HeaderLength, word) != 4)
        {
            return NetControlError.BadLength;
        }

        uint unicastCount = BinaryPrimitives.ReadUInt32LittleEndian(word);
        ulong multicastAt = 4 + (6UL * unicastCount);
        if (multicastAt + 4 > dataLength || chain.CopyFromReadable((uint)(HeaderLength + multicastAt), word) != 4)
        {
            return NetControlError.BadLength;
        }

        uint multicastCount = BinaryPrimitives.ReadUInt32LittleEndian(word);
        if (multicastAt + 4 + (6UL * multicastCount) != dataLength)
        {
            return NetControlError.BadLength;
        }

        // At least one table overflows (else the command would have fitted the buffer); only kept
        // tables are copied, each into its own part of the buffer, once.
        int limit = Limits.MaxMacTableEntries;
        Span<byte> unicast = default, multicast = default;
        if (unicastCount <= (uint)limit)
        {
            unicast = _scratch.AsSpan(0, 6 * (int)unicastCount);
            if (chain.CopyFromReadable(HeaderLength + 4, unicast) != unicast.Length)
            {
                return NetControlError.BadLength;
            }
        }

        if (multicastCount <= (uint)limit)
        {
            multicast = _scratch.AsSpan(unicast.Length, 6 * (int)multicastCount);
            if (chain.CopyFromReadable((uint)(HeaderLength + multicastAt + 4), multicast) != multicast.Length)
            {
                return NetControlError.BadLength;
            }
        }

        next = WithMacTables(unicastCount, unicast, multicastCount, multicast);
        return NetControlError.None;
    }

    private NetControlState WithMacTables(uint unicastCount, ReadOnlySpan<byte> unicast, uint multicastCount, ReadOnlySpan<byte> multicast)
    {
        uint limit = (uint)Limits.MaxMacTableEntries;
        NetControlState next = _state.CloneForUpdate();
        next._unicast = unicastCount > limit ? MacFilterTable.Overflow : MacFilterTable.FromWire(unicast, (int)unicastCount);
        next._multicast = multicastCount > limit ? MacFilterTable.Overflow : MacFilterTable.FromWire(multicast, (int)multicastCount);
        return next;
    }

    // §5.1.6.5.3: ADD / DEL take a le16 VLAN id; ids are 12 bits (QEMU refuses ≥ 4096 too).
    private NetControlError DecodeVlan(byte cmd, ReadOnlySpan<byte> data, out NetControlState? next)
    {
        next = null;
        if (cmd > 1)
        {
            return NetControlError.UnknownCommand;
        }

        if ((NegotiatedFeatures & NetFeatures.CtrlVlan) == 0)
        {
            return NetControlError.FeatureNotNegotiated;
        }

        if (data.Length != 2)
        {
            return NetControlError.BadLength;
        }

        int vid = BinaryPrimitives.ReadUInt16LittleEndian(data);
        if (vid >= 4096)
        {
            return NetControlError.InvalidValue;
        }

        next = _state.CloneForUpdate();
        ulong[] vlans = (ulong[])next._vlans.Clone();
        if (cmd == 0)
        {
            vlans[vid >> 6] |= 1UL << vid;
        }
        else
        {
            vlans[vid >> 6] &= ~(1UL << vid);
        }

        next._vlans = vlans;
        return NetControlError.None;
    }

    // §5.1.6.5.4: ANNOUNCE_ACK has no data and clears VIRTIO_NET_S_ANNOUNCE. As QEMU, an ack with no
    // announce pending is refused.
    private NetControlError DecodeAnnounce(byte cmd, ReadOnlySpan<byte> data, out NetControlState? next)
    {
        next = null;
        if (cmd != 0)
        {
            return NetControlError.UnknownCommand;
        }

        if ((NegotiatedFeatures & NetFeatures.GuestAnnounce) == 0)
        {
            return NetControlError.FeatureNotNegotiated;
        }

        if (!data.IsEmpty)
        {
            return NetControlError.BadLength;
        }

        if (!_state._announcePending)
        {
            return NetControlError.InvalidState;
        }

        next = _state.CloneForUpdate();
        next._announcePending = false;
        return NetControlError.None;
    }

    private NetControlError DecodeMq(byte cmd, ReadOnlySpan<byte> data, out NetControlState? next)
    {
        next = null;
        switch (cmd)
        {
            case 0:
                return DecodeQueuePairs(data, out next);
            case 1:
                return DecodeRss(data, out next);
            case 2:
                return DecodeHashConfig(data, out next);
            default:
                return NetControlError.UnknownCommand;
        }
    }

    // §5.1.6.5.6: struct virtio_net_ctrl_mq_pairs_set { le16 virtqueue_pairs; }, 1..max_virtqueue_pairs.
    // It selects automatic steering (the last MQ command decides, §5.1.6.5.5).
    private NetControlError DecodeQueuePairs(ReadOnlySpan<byte> data, out NetControlState? next)
    {
        next = null;
        if ((NegotiatedFeatures & NetFeatures.Mq) == 0)
        {
            return NetControlError.FeatureNotNegotiated;
        }

        if (data.Length != 2)
        {
            return NetControlError.BadLength;
        }

        int pairs = BinaryPrimitives.ReadUInt16LittleEndian(data);
        if (pairs < 1 || pairs > _state.MaxQueuePairs)
        {
            return NetControlError.InvalidValue;
        }

        next = _state.CloneForUpdate();
        next._steering = ReceiveSteering.Automatic;
        next._rss = null;
        next._activePairs = pairs;
        ResetDisabledQueueCoalescing(_state, next);
        return NetControlError.None;
    }

    // §5.1.6.5.7 (virtio 1.3 text): le32 hash_types; le16 indirection_table_mask; rss_rq_id
    // unclassified_queue; rss_rq_id indirection_table[mask + 1]; le16 max_tx_vq; u8 hash_key_length;
    // u8 hash_key_data[hash_key_length]. An rss_rq_id is bits 1..16 of a receive virtqueue index, i.e.
    // the receive-queue number (0 = receiveq1), with bit 15 reserved zero: any id ≥ max_virtqueue_pairs
    // (≤ 0x8000) is refused, which covers the reserved bit. Checks as QEMU: table length a power of two
    // and ≤ rss_max_indirection_table_length; ids below max_virtqueue_pairs; max_tx_vq in 1..max; key
    // ≤ rss_max_key_size and present when a hash type is on; only supported hash types.
    private NetControlError DecodeRss(ReadOnlySpan<byte> data, out NetControlState? next)
    {
        next = null;
        if ((NegotiatedFeatures & NetFeatures.Rss) == 0)
        {
            return NetControlError.FeatureNotNegotiated;
        }

        if (data.Length < 8)
        {
            return NetControlError.BadLength;
        }

        var hashTypes = (NetHashTypes)BinaryPrimitives.ReadUInt32LittleEndian(data);
        int entries = BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(4)) + 1;
        int unclassified = BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(6));
        if ((entries & (entries - 1)) != 0 || entries > Limits.RssMaxIndirectionTableLength)
        {
            return NetControlError.InvalidValue;
        }

        int tableEnd = 8 + (2 * entries);
        if (data.Length < tableEnd + 3)
        {
            return NetControlError.BadLength;
        }

        int maxTx = BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(tableEnd));
        int keyLength = data[tableEnd + 2];
        if (data.Length != tableEnd + 3 + keyLength)
        {
            return NetControlError.BadLength;
        }

        int maxPairs = _state.MaxQueuePairs;
        if (!HashParametersValid(hashTypes, keyLength) || unclassified >= maxPairs || maxTx < 1 || maxTx > maxPairs)
        {
            return NetControlError.InvalidValue;
        }

        var table = new ushort[entries];
        for (int i = 0; i < entries; i++)
        {
            ushort queue = BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(8 + (2 * i)));
            if (queue >= maxPairs)
            {
                return NetControlError.InvalidValue;
            }

            table[i] = queue;
        }

        var rss = new RssConfiguration(hashTypes, data.Slice(tableEnd + 3, keyLength).ToArray(), table, (ushort)unclassified);
        next = _state.CloneForUpdate();
        next._steering = ReceiveSteering.Rss;
        next._rss = rss;
        next._activePairs = maxTx;
        ResetDisabledQueueCoalescing(_state, next);
        return NetControlError.None;
    }

    // §5.1.6.5.6.4: struct virtio_net_hash_config { le32 hash_types; le16 reserved[4]; u8 hash_key_length;
    // u8 hash_key_data[]; }. The reserved words are ignored: they sit where virtio_net_rss_config has
    // its mask, queue ids and max_tx_vq, and drivers that reuse that layout (Linux) put values there.
    // It configures hashing under automatic steering, so it leaves RSS, as QEMU.
    private NetControlError DecodeHashConfig(ReadOnlySpan<byte> data, out NetControlState? next)
    {
        next = null;
        if ((NegotiatedFeatures & NetFeatures.HashReport) == 0)
        {
            return NetControlError.FeatureNotNegotiated;
        }

        if (data.Length < 13)
        {
            return NetControlError.BadLength;
        }

        var hashTypes = (NetHashTypes)BinaryPrimitives.ReadUInt32LittleEndian(data);
        int keyLength = data[12];
        if (data.Length != 13 + keyLength)
        {
            return NetControlError.BadLength;
        }

        if (!HashParametersValid(hashTypes, keyLength))
        {
            return NetControlError.InvalidValue;
        }

        next = _state.CloneForUpdate();
        next._steering = ReceiveSteering.Automatic;
        next._rss = null;
        next._hashConfigTypes = hashTypes;
        next._hashConfigKey = data.Slice(13, keyLength).ToArray();
        ResetDisabledQueueCoalescing(_state, next);
        return NetControlError.None;
    }

    private bool HashParametersValid(NetHashTypes hashTypes, int keyLength) =>
        (hashTypes & ~(Limits.SupportedHashTypes & DefinedHashTypes)) == 0 &&
        keyLength <= Limits.RssMaxKeySize &&
        (keyLength != 0 || hashTypes == NetHashTypes.None);

    // §5.1.6.5.8: le64 offloads; only offloads whose feature was negotiated may be enabled.
    private NetControlError DecodeGuestOffloads(byte cmd, ReadOnlySpan<byte> data, out NetControlState? next)
    {
        next = null;
        if (cmd != 0)
        {
            return NetControlError.UnknownCommand;
        }

        if ((NegotiatedFeatures & NetFeatures.CtrlGuestOffloads) == 0)
        {
            return NetControlError.FeatureNotNegotiated;
        }

        if (data.Length != 8)
        {
            return NetControlError.BadLength;
        }

        var offloads = (NetFeatures)BinaryPrimitives.ReadUInt64LittleEndian(data);
        if ((offloads & ~(NegotiatedFeatures & NetControlState.GuestOffloadMask)) != 0)
        {
            return NetControlError.InvalidValue;
        }

        next = _state.CloneForUpdate();
        next._guestOffloads = offloads;
        return NetControlError.None;
    }

    // §5.1.6.5.9 (virtio 1.3): TX_SET / RX_SET = virtio_net_ctrl_coal (le32 max_packets, le32 max_usecs)
    // need NOTF_COAL; VQ_SET = le16 vq_index, le16 reserved (ignored), virtio_net_ctrl_coal; VQ_GET =
    // le16 vq_index, le16 reserved, and the device writes virtio_net_ctrl_coal after the ack; both need
    // VQ_NOTF_COAL and an enabled transmit or receive queue.
    private NetControlError DecodeCoalescing(byte cmd, ReadOnlySpan<byte> data, Span<byte> result, out int resultLength, out NetControlState? next)
    {
        resultLength = 0;
        next = null;
        if (cmd > 3)
        {
            return NetControlError.UnknownCommand;
        }

        NetFeatures needed = cmd <= 1 ? NetFeatures.NotfCoal : NetFeatures.VqNotfCoal;
        if ((NegotiatedFeatures & needed) == 0)
        {
            return NetControlError.FeatureNotNegotiated;
        }

        int expected = cmd switch { 0 or 1 => 8, 2 => 12, _ => 4 };
        if (data.Length != expected)
        {
            return NetControlError.BadLength;
        }

        NetControlState current = _state;
        if (cmd <= 1)
        {
            NotificationCoalescing all = ReadCoalescing(data);
            next = current.CloneForUpdate();
            var queues = (NotificationCoalescing[])current._queueCoalescing.Clone();
            for (int i = cmd == 0 ? 1 : 0; i < queues.Length; i += 2)
            {
                queues[i] = all;
            }

            next._queueCoalescing = queues;
            if (cmd == 0)
            {
                next._txCoalescing = all;
            }
            else
            {
                next._rxCoalescing = all;
            }

            return NetControlError.None;
        }

        int queue = BinaryPrimitives.ReadUInt16LittleEndian(data);
        if (!current.IsQueueEnabled(queue))
        {
            return NetControlError.InvalidValue;
        }

        if (cmd == 2)
        {
            next = current.CloneForUpdate();
            var queues = (NotificationCoalescing[])current._queueCoalescing.Clone();
            queues[queue] = ReadCoalescing(data.Slice(4));
            next._queueCoalescing = queues;
            return NetControlError.None;
        }

        if (result.Length < NotificationCoalescing.Length)
        {
            return NetControlError.ResponseTooSmall;
        }

        NotificationCoalescing value = current._queueCoalescing[queue];
        BinaryPrimitives.WriteUInt32LittleEndian(result, value.MaxPackets);
        BinaryPrimitives.WriteUInt32LittleEndian(result.Slice(4), value.MaxMicroseconds);
        resultLength = NotificationCoalescing.Length;
        return NetControlError.None;
    }

    private static NotificationCoalescing ReadCoalescing(ReadOnlySpan<byte> data) =>
        new(BinaryPrimitives.ReadUInt32LittleEndian(data), BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(4)));

    /// <summary>
    /// §5.1.6.5.9: a queue disabled and re-enabled gets the TX_SET / RX_SET parameters back; queues the
    /// new configuration disables are reset to those now, so they come back right.
    /// </summary>
    private static void ResetDisabledQueueCoalescing(NetControlState before, NetControlState next)
    {
        NotificationCoalescing[] queues = before._queueCoalescing;
        NotificationCoalescing[]? copy = null;
        for (int i = 0; i < queues.Length; i++)
        {
            if (before.IsQueueEnabled(i) && !next.IsQueueEnabled(i))
            {
                copy ??= (NotificationCoalescing[])queues.Clone();
                copy[i] = (i & 1) == 0 ? before._rxCoalescing : before._txCoalescing;
            }
        }

        if (copy is not null)
        {
            next._queueCoalescing = copy;
        }
    }
}
