using System;
using System.Diagnostics;
using VirtioRing.Linux;
using VirtioRing.VhostUser.Protocol;

namespace VirtioRing.VhostUser.Transport;

/// <summary>
/// A received message: its header, its payload, and the fds that came with it. The message owns the
/// fds: <see cref="TakeFd"/> hands one over; <see cref="Dispose"/> closes every fd not taken.
/// </summary>
[DebuggerDisplay("{Header.Request} ({Payload.Length} bytes, {FdCount} fd(s))")]
public sealed class VhostUserMessage : IDisposable
{
    private readonly byte[] _payload;
    private readonly SafeFileDescriptor?[] _fds;

    internal VhostUserMessage(VhostUserHeader header, byte[] payload, SafeFileDescriptor?[] fds)
    {
        Header = header;
        _payload = payload;
        _fds = fds;
    }

    /// <summary>Gets the header.</summary>
    public VhostUserHeader Header { get; }

    /// <summary>Gets the payload (exactly <see cref="VhostUserHeader.Size"/> bytes).</summary>
    public ReadOnlySpan<byte> Payload => _payload;

    /// <summary>Gets the number of fds received with the message (taken ones included).</summary>
    public int FdCount => _fds.Length;

    /// <summary>Takes ownership of a received fd: the caller disposes it.</summary>
    /// <param name="index">The fd's position in the ancillary data.</param>
    /// <returns>The fd.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not below <see cref="FdCount"/>.</exception>
    /// <exception cref="InvalidOperationException">It was already taken.</exception>
    public SafeFileDescriptor TakeFd(int index)
    {
        if ((uint)index >= (uint)_fds.Length)
        {
            VhostUserThrowHelper.ThrowArgumentOutOfRange(nameof(index), "No such fd.");
        }

        SafeFileDescriptor? fd = _fds[index];
        if (fd is null)
        {
            VhostUserThrowHelper.ThrowInvalidOperation("The fd was already taken.");
        }

        _fds[index] = null;
        return fd;
    }

    /// <summary>Closes every fd not taken.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _fds.Length; i++)
        {
            _fds[i]?.Dispose();
            _fds[i] = null;
        }
    }
}
