using System;
using System.Threading;
using VirtioRing.Net.Backends;

namespace VirtioRing.Net.Switching;

/// <content>Filters see what is delivered: the private copy of a guest's frame taken while any filter is installed.</content>
public sealed partial class NetSwitch
{
    // Filters installed on ports (ingress and egress), counted up before each is published and down after each is
    // withdrawn, so a sender that reads 0 here saw no filter yet: the count is never below the filters visible.
    private int _filterRefs;

    /// <summary>Installs or withdraws a port's filter (<see cref="NetSwitchPort.IngressFilter"/>, <see cref="NetSwitchPort.EgressFilter"/>).</summary>
    internal void ReplaceFilter(ref INetSwitchFilter? slot, INetSwitchFilter? value)
    {
        if (value is not null)
        {
            Interlocked.Increment(ref _filterRefs);
        }

        if (Interlocked.Exchange(ref slot, value) is not null)
        {
            Interlocked.Decrement(ref _filterRefs);
        }
    }

    /// <summary>Whether <see cref="PrivateCopyIfFiltered"/> copies this frame: a filter is installed and the frame may live in guest memory.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private bool NeedsPrivateCopy(NetSwitchPort from, in NetFrame sent) =>
        Volatile.Read(ref _filterRefs) != 0 && (from.IsGuest || sent.IsChain);

    /// <summary>
    /// While any filter is installed, copies a frame that lives in the sender's guest memory once into the sender
    /// queue's own buffer, so the addresses, every filter and every receiver read the same bytes (a sending guest's other
    /// vCPUs can rewrite its chain at any time: a filter inspecting the chain and a receiver copying it afterwards would
    /// see two different frames). Frames an external backend delivers (spans in host memory) are not copied.
    /// </summary>
    /// <returns>The copy, or <paramref name="sent"/> when none is needed, or an empty frame when <paramref name="tooLong"/>
    /// is set (too long to copy: drop it as a bad frame).</returns>
    private NetFrame PrivateCopyIfFiltered(NetSwitchPort from, SenderQueue sq, in NetFrame sent, out bool tooLong)
    {
        tooLong = false;
        if (!NeedsPrivateCopy(from, sent))
        {
            return sent;
        }

        int length = sent.Length;
        if ((uint)length > NetSwitchPort.MaxSoftwareFrame)
        {
            tooLong = true;   // longer than any frame a virtio-net header can describe (64 KiB IP packet + L2)
            return default;
        }

        byte[]? buffer = sq.PrivateCopy;
        if (buffer is null || buffer.Length < length)
        {
            // Grown rarely (powers of two from 2 KiB, at most MaxSoftwareFrame), then reused: no steady-state allocation.
            int size = buffer is null ? 2048 : buffer.Length;
            while (size < length)
            {
                size *= 2;
            }

            sq.PrivateCopy = buffer = new byte[Math.Min(size, NetSwitchPort.MaxSoftwareFrame)];
        }

        int n = sent.CopyTo(buffer.AsSpan(0, length));
        sq.PrivateHeader = sent.Header;   // a field, not a local: FromSpan takes the header by reference
        return NetFrame.FromSpan(sq.PrivateHeader, buffer.AsSpan(0, n));
    }
}
