using System;
using System.Collections.Generic;
using System.Globalization;
using VirtioRing.Queues;

namespace VirtioRing.TestKit;

/// <summary>Where a chain is in its life, as the model sees it.</summary>
public enum ModelChainState
{
    /// <summary>Added by the driver, not yet published.</summary>
    Added,

    /// <summary>Published by the driver, not yet popped by the device.</summary>
    Available,

    /// <summary>Popped by the device, not yet pushed.</summary>
    Held,

    /// <summary>Pushed by the device, not yet published.</summary>
    Pushed,

    /// <summary>Published as used, not yet reclaimed by the driver.</summary>
    Used,

    /// <summary>Reclaimed by the driver.</summary>
    Reclaimed,
}

/// <summary>One chain as the model tracks it: its token, its buffers and the bytes each side wrote.</summary>
public sealed class ModelChain
{
    private readonly BufferSegment[] _segments;
    private byte[] _written = [];

    internal ModelChain(ulong token, ChainSpec spec, BufferSegment[] segments, byte[] readableBytes, int ringDescriptors)
    {
        Token = token;
        Spec = spec;
        _segments = segments;
        ReadableBytes = readableBytes;
        RingDescriptors = ringDescriptors;
    }

    /// <summary>Gets the driver's token.</summary>
    public ulong Token { get; }

    /// <summary>Gets the shape.</summary>
    public ChainSpec Spec { get; }

    /// <summary>Gets the buffers the driver added, readable first.</summary>
    public IReadOnlyList<BufferSegment> Segments => _segments;

    /// <summary>Gets the bytes the driver put in the readable buffers, concatenated.</summary>
    public ReadOnlyMemory<byte> ReadableBytes { get; }

    /// <summary>Gets the ring descriptors (split table entries, packed ring slots) the chain occupies.</summary>
    public int RingDescriptors { get; }

    /// <summary>Gets the state.</summary>
    public ModelChainState State { get; internal set; }

    /// <summary>Gets the device's id for the chain (valid from <see cref="ModelChainState.Held"/>).</summary>
    public ushort DeviceId { get; internal set; }

    /// <summary>Gets the bytes the device wrote at the start of the writable buffers (valid from <see cref="ModelChainState.Pushed"/>).</summary>
    public ReadOnlyMemory<byte> WrittenBytes => _written;

    /// <summary>Gets the written length the device pushed.</summary>
    public uint WrittenLength => (uint)_written.Length;

    internal void SetWritten(byte[] bytes) => _written = bytes;

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"token={Token} {Spec} state={State} id={DeviceId} written={WrittenLength}");
}
