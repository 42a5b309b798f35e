using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtioRing.Net.Backends;
using VirtioRing.Queues;

namespace VirtioRing.Net.Rx;

/// <content>Lending held chains to a source that writes a frame in place (a TAP's <c>readv</c>).</content>
public sealed partial class NetReceiveWriter
{
    /// <summary>
    /// Holds chains with room for a header and a frame of <paramref name="maxFrameLength"/> bytes (without
    /// <c>MRG_RXBUF</c> the next chain, whatever its size) and lists their writable segments, in order,
    /// into <paramref name="segments"/> (at most <see cref="DirectSegments.MaxSegments"/>, at most that
    /// many bytes). Nothing is written or pushed, except that without <c>MRG_RXBUF</c> a chain too small
    /// for a header and an Ethernet header — it could never take a frame — is pushed back used with
    /// nothing written (<paramref name="returned"/>), so it cannot make every frame fail.
    /// </summary>
    /// <returns><see cref="NetReceiveStatus.Delivered"/> when the segments are listed (fewer bytes than asked
    /// only when the ring can never hold more at once); <see cref="NetReceiveStatus.NoBuffers"/> (what was
    /// popped stays held: <see cref="HeldCount"/>); <see cref="NetReceiveStatus.QueueBroken"/>.</returns>
    internal unsafe NetReceiveStatus Lend(DirectSegments segments, int maxFrameLength, out int returned)
    {
        segments.Clear();
        returned = 0;
        if (_queue.IsBroken)
        {
            Forget();
            return NetReceiveStatus.QueueBroken;
        }

        ulong needed = (ulong)Layout.Size + (ulong)Math.Min(maxFrameLength, MaxFrameLength);
        bool mergeable = Mode == NetReceiveMode.Mergeable;
        ulong have = 0;
        int k = 0;
        while (have < needed && (mergeable || k == 0))
        {
            if (k == _heldCount)
            {
                NetReceiveStatus s = PopOne();
                if (s == NetReceiveStatus.FrameTooLarge && k > 0)
                {
                    break;   // the ring can never hold more at once: lend what there is
                }

                if (s != NetReceiveStatus.Delivered)
                {
                    return s == NetReceiveStatus.FrameTooLarge ? NetReceiveStatus.NoBuffers : s;
                }
            }

            ulong w = _held[Slot(k)].WritableLength;
            if (!mergeable && w < (ulong)Layout.Size + 14)
            {
                if (returned >= _queue.Size)
                {
                    return NetReceiveStatus.NoBuffers;   // bounded: a driver posting only such chains is not served
                }

                CommitLent(1, 0);   // head of the FIFO (k == 0): no frame can ever fit it
                returned++;
                continue;
            }

            have += w;
            k++;
        }

        ulong left = Math.Min(have, needed);
        for (int i = 0; i < k && left > 0; i++)
        {
            ref readonly DescriptorChain c = ref _held[Slot(i)];
            for (int s = c.ReadableCount; s < c.SegmentCount && left > 0; s++)
            {
                Span<byte> span = c.GetSpan(s);
                if (span.IsEmpty)
                {
                    continue;
                }

                if (segments.Count == DirectSegments.MaxSegments)
                {
                    return NetReceiveStatus.Delivered;
                }

                int length = (int)Math.Min((ulong)span.Length, left);
                segments.Address[segments.Count] = (IntPtr)Unsafe.AsPointer(ref MemoryMarshal.GetReference(span));
                segments.Length[segments.Count] = length;
                segments.Count++;
                segments.Capacity += length;
                left -= (ulong)length;
            }
        }

        return NetReceiveStatus.Delivered;
    }

    /// <summary>Gets how many held chains (from the front) hold <paramref name="written"/> bytes written in lent order.</summary>
    internal int CountLent(int written)
    {
        ulong left = (ulong)written;
        int count = 0;
        while (count < _heldCount)
        {
            ulong w = _held[Slot(count)].WritableLength;
            count++;
            if (w >= left)
            {
                break;
            }

            left -= w;
        }

        return count;
    }

    /// <summary>Pushes the first <paramref name="count"/> held chains, which hold <paramref name="written"/> bytes in lent order (each full but the last). The caller publishes.</summary>
    internal NetReceiveResult CommitLent(int count, int written)
    {
        ulong left = (ulong)written;
        for (int i = 0; i < count; i++)
        {
            ref DescriptorChain c = ref _held[Slot(i)];
            ulong take = Math.Min((ulong)c.WritableLength, left);
            _queue.PushUsed(c, (uint)take);
            left -= take;
            _heldDescriptors -= c.DescriptorCount;
            c = default;
        }

        _heldHead = Slot(count);
        _heldCount -= count;
        if (_heldCount == 0)
        {
            _heldHead = 0;
        }

        return new NetReceiveResult(NetReceiveStatus.Delivered, count, (uint)written);
    }

    /// <summary>Copies lent bytes from <paramref name="offset"/> into <paramref name="destination"/>; returns how many there were.</summary>
    internal static unsafe int CopyFromLent(DirectSegments segments, int offset, Span<byte> destination)
    {
        int copied = 0;
        for (int i = 0; i < segments.Count && copied < destination.Length; i++)
        {
            int length = segments.Length[i];
            if (offset >= length)
            {
                offset -= length;
                continue;
            }

            int n = Math.Min(length - offset, destination.Length - copied);
            new ReadOnlySpan<byte>((byte*)segments.Address[i] + offset, n).CopyTo(destination.Slice(copied));
            copied += n;
            offset = 0;
        }

        return copied;
    }

    /// <summary>Writes <paramref name="source"/> into the lent segments from offset 0 (the header).</summary>
    internal static unsafe void WriteToLent(DirectSegments segments, ReadOnlySpan<byte> source)
    {
        for (int i = 0; i < segments.Count && !source.IsEmpty; i++)
        {
            int n = Math.Min(segments.Length[i], source.Length);
            source.Slice(0, n).CopyTo(new Span<byte>((byte*)segments.Address[i], n));
            source = source.Slice(n);
        }
    }
}
