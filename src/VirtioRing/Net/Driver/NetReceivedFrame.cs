using System;

namespace VirtioRing.Net.Driver;

/// <summary>
/// A received frame in place: the bytes after the virtio-net header in each of its
/// <see cref="BufferCount"/> receive buffers (one, or <c>num_buffers</c> with <c>MRG_RXBUF</c>).
/// Valid only during <see cref="INetFrameReceiver.OnFrame"/>.
/// </summary>
public readonly unsafe ref struct NetReceivedFrame
{
    private readonly byte* _host;
    private readonly int _bufferSize;
    private readonly int[] _buffers;
    private readonly uint[] _lengths;
    private readonly int _headerSize;

    internal NetReceivedFrame(byte* host, int bufferSize, int[] buffers, uint[] lengths, int count, int headerSize, int length)
    {
        _host = host;
        _bufferSize = bufferSize;
        _buffers = buffers;
        _lengths = lengths;
        BufferCount = count;
        _headerSize = headerSize;
        Length = length;
    }

    /// <summary>Gets the frame length (Ethernet header onwards).</summary>
    public int Length { get; }

    /// <summary>Gets the number of receive buffers the frame occupies.</summary>
    public int BufferCount { get; }

    /// <summary>Gets the frame's bytes in buffer <paramref name="index"/> (the first without the header); in order they make the frame.</summary>
    /// <param name="index">0 to <see cref="BufferCount"/> - 1.</param>
    /// <returns>The bytes (possibly empty).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is out of range.</exception>
    public ReadOnlySpan<byte> GetBuffer(int index)
    {
        if ((uint)index >= (uint)BufferCount)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(index));
        }

        int skip = index == 0 ? _headerSize : 0;
        int n = (int)_lengths[index] - skip;
        return n <= 0 ? default : new ReadOnlySpan<byte>(_host + ((long)_buffers[index] * _bufferSize) + skip, n);
    }

    /// <summary>Copies the frame into <paramref name="destination"/>.</summary>
    /// <param name="destination">At least <see cref="Length"/> bytes.</param>
    /// <returns><see cref="Length"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public int CopyTo(Span<byte> destination)
    {
        if (destination.Length < Length)
        {
            ThrowHelper.ThrowArgument(nameof(destination), "The destination is shorter than the frame.");
        }

        int done = 0;
        for (int i = 0; i < BufferCount; i++)
        {
            ReadOnlySpan<byte> piece = GetBuffer(i);
            piece.CopyTo(destination.Slice(done));
            done += piece.Length;
        }

        return done;
    }
}
