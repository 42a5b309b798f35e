namespace VirtioRing.Queues;

/// <summary>
/// Is told of the guest memory a device queue writes, for dirty-page logging during live migration
/// (vhost's <c>VHOST_F_LOG_ALL</c>): the bytes written into a chain's device-writable buffers (the
/// written length given to <see cref="IDeviceQueue.PushUsed"/>), the used descriptors a packed queue
/// writes into its descriptor ring, and every store into the device area (the split used ring, the
/// packed device event suppression structure).
/// </summary>
/// <remarks>
/// <para>Set on a device queue (<c>SplitDeviceQueue.WriteLog</c>, <c>PackedDeviceQueue.WriteLog</c>)
/// only while logging; a queue without one checks a null field and does nothing more. Each call comes
/// after the store it reports, on the thread driving the queue.</para>
/// <para>Addresses come from the guest: an implementation must ignore ranges it cannot record and must
/// not throw.</para>
/// </remarks>
public abstract class GuestWriteLog
{
    /// <summary>Records a device write of <paramref name="length"/> bytes at a guest-physical address (a buffer, or a packed descriptor ring slot).</summary>
    /// <param name="guestAddress">The guest-physical address of the first byte written (from the guest: may be anything).</param>
    /// <param name="length">The number of bytes written (not zero).</param>
    public abstract void LogWrite(ulong guestAddress, ulong length);

    /// <summary>Records a device write into the queue's device area (split: the used ring; packed: the device event suppression structure).</summary>
    /// <param name="offset">The offset of the first byte written from the start of the device area.</param>
    /// <param name="length">The number of bytes written (not zero).</param>
    /// <remarks>Separate from <see cref="LogWrite"/> because vhost logs these at its own base address for the area (<c>log_guest_addr</c>).</remarks>
    public abstract void LogDeviceAreaWrite(ulong offset, ulong length);

    /// <summary>Records the writable bytes of a chain that the device filled: the first <paramref name="writtenLength"/> bytes of its writable buffers, in order.</summary>
    /// <param name="chain">The chain (held by the queue).</param>
    /// <param name="writtenLength">The written length (at most <see cref="DescriptorChain.WritableLength"/>).</param>
    internal void LogChain(in DescriptorChain chain, uint writtenLength)
    {
        uint left = writtenLength;
        for (int i = chain.ReadableCount; left != 0 && i < chain.SegmentCount; i++)
        {
            BufferSegment s = chain.GetSegment(i);
            uint n = s.Length < left ? s.Length : left;
            if (n != 0)
            {
                LogWrite(s.Address.Value, n);
            }

            left -= n;
        }
    }
}
