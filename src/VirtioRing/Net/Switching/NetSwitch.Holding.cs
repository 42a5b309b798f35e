using System;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Threading;
using VirtioRing.Net.Backends;

namespace VirtioRing.Net.Switching;

/// <content>The identity of a frame held for flow control, and giving a held frame up.</content>
public sealed partial class NetSwitch
{
    private const int HoldKeyBytes = 64;

    /// <summary>The sender gave its held frame up (<see cref="INetBackendHoldAware.AbandonHeld"/>): the next frame is new.</summary>
    internal static void Abandon(SenderQueue sq)
    {
        sq.Holding = false;
        if (sq.AnySegmentsDone)
        {
            Array.Clear(sq.SegmentsDone, 0, sq.SegmentsDone.Length);
            sq.AnySegmentsDone = false;
        }

        if (Volatile.Read(ref sq.WaitingOn) != 0)
        {
            Volatile.Write(ref sq.WaitingOn, 0);   // a wake-up that comes anyway only makes the engine poll once
        }
    }

    /// <summary>
    /// What, besides its length and addresses, tells the held frame offered again from a new frame: the chain's head
    /// (when the frame is a chain) and a hash of the first 64 bytes. Computed only while a frame is held.
    /// </summary>
    /// <remarks>
    /// A new frame with the same head, length and first 64 bytes (a retransmission of the very same frame on the same
    /// descriptor after the held one was abandoned) still passes for the held one and skips the ports the held one
    /// reached: only <see cref="INetBackendHoldAware.AbandonHeld"/> rules that out. A guest that rewrites its held frame
    /// between offers makes it new (the ports that had it get it again): its own frames only.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong HoldKey(in NetFrame frame)
    {
        Span<byte> scratch = stackalloc byte[HoldKeyBytes];
        ReadOnlySpan<byte> head = frame.Peek(HoldKeyBytes, scratch);
        ulong h = frame.IsChain ? frame.Chain.Id + 1UL : 0;
        int i = 0;
        for (; i + 8 <= head.Length; i += 8)
        {
            h = Mix(h, BinaryPrimitives.ReadUInt64LittleEndian(head.Slice(i)));
        }

        ulong tail = 0;
        for (int shift = 0; i < head.Length; i++, shift += 8)
        {
            tail |= (ulong)head[i] << shift;
        }

        return Mix(h, tail ^ ((ulong)head.Length << 56));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong h, ulong word)
    {
        h ^= word * 0x9E3779B97F4A7C15UL;
        return ((h << 31) | (h >> 33)) * 0xC2B2AE3D27D4EB4FUL;
    }
}
