using System;
using VirtioRing.Memory;
using VirtioRing.Net.Multiqueue;

namespace VirtioRing.Net.Driver;

/// <summary>
/// What a <see cref="NetDriver"/> needs: the guest memory, a buffer area inside it that the driver
/// carves its receive and transmit buffers and its control-command buffer from, the features it
/// wants, and its buffer and queue policies.
/// </summary>
public sealed class NetDriverOptions
{
    /// <summary>The features a driver wants by default: everything this driver handles.</summary>
    public const NetFeatures DefaultFeatures =
        NetFeatures.Version1 | NetFeatures.Mac | NetFeatures.Mtu | NetFeatures.Status | NetFeatures.MrgRxBuf |
        NetFeatures.Csum | NetFeatures.GuestCsum | NetFeatures.HostTso4 | NetFeatures.HostTso6 | NetFeatures.HostUso |
        NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.GuestUso4 | NetFeatures.GuestUso6 |
        NetFeatures.CtrlVq | NetFeatures.CtrlRx | NetFeatures.CtrlVlan | NetFeatures.CtrlRxExtra | NetFeatures.CtrlMacAddr |
        NetFeatures.CtrlGuestOffloads | NetFeatures.GuestAnnounce | NetFeatures.Mq | NetFeatures.Rss | NetFeatures.HashReport |
        NetFeatures.IndirectDesc | NetFeatures.EventIdx | NetFeatures.RingPacked | NetFeatures.InOrder;

    /// <summary>Initializes a new instance of the <see cref="NetDriverOptions"/> class.</summary>
    /// <param name="memory">The guest memory holding the rings and the buffers.</param>
    /// <param name="bufferArea">The start of the buffer area, 64-byte aligned, inside one region of <paramref name="memory"/>.</param>
    /// <param name="bufferAreaLength">Its length (see <see cref="NetDriver.GetBufferAreaBytes"/>).</param>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    public NetDriverOptions(GuestMemory memory, GuestAddress bufferArea, ulong bufferAreaLength)
    {
        if (memory is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(memory));
        }

        Memory = memory;
        BufferArea = bufferArea;
        BufferAreaLength = bufferAreaLength;
    }

    /// <summary>Gets the guest memory.</summary>
    public GuestMemory Memory { get; }

    /// <summary>Gets the start of the buffer area.</summary>
    public GuestAddress BufferArea { get; }

    /// <summary>Gets the length of the buffer area.</summary>
    public ulong BufferAreaLength { get; }

    /// <summary>Gets the features the driver wants (intersected with the offer, then fixed up so dependencies hold). Default: <see cref="DefaultFeatures"/>.</summary>
    public NetFeatures WantedFeatures { get; init; } = DefaultFeatures;

    /// <summary>Gets the number of queue pairs the driver binds (at most the device's <c>max_virtqueue_pairs</c>; 1 without <c>MQ</c>). Default 1.</summary>
    public int QueuePairs { get; init; } = 1;

    /// <summary>Gets the transmit-queue policy for <see cref="NetDriver.TrySend(ReadOnlySpan{byte}, in VirtioNetHeader)"/>. Default: a <see cref="FlowHashTxQueueSelector"/>.</summary>
    public ITxQueueSelector TxQueueSelector { get; init; } = new FlowHashTxQueueSelector();

    /// <summary>Gets the size of each receive buffer with <c>MRG_RXBUF</c> (at least the header; §5.1.6.3.1). Default 2048.</summary>
    public int MergeableBufferSize { get; init; } = 2048;

    /// <summary>Gets the MTU the small receive buffers are sized for (without <c>MRG_RXBUF</c> and receive GSO): header + MTU + 14 bytes, at least 1526 (§5.1.6.3.1). Default 1500.</summary>
    public int Mtu { get; init; } = 1500;

    /// <summary>Gets the receive chains posted per receive queue; 0 (default) for one per ring slot.</summary>
    public int RxBuffersPerQueue { get; init; }

    /// <summary>Gets the size of each transmit buffer (header and frame; a longer frame takes several). Default 2048.</summary>
    public int TxBufferSize { get; init; } = 2048;

    /// <summary>Gets the transmit buffers per transmit queue; 0 (default) for one per ring slot.</summary>
    public int TxBuffersPerQueue { get; init; }

    /// <summary>Gets how transmitted frames are laid out in descriptors. Default <see cref="NetTransmitLayout.HeaderInline"/>.</summary>
    public NetTransmitLayout TransmitLayout { get; init; } = NetTransmitLayout.HeaderInline;

    /// <summary>Gets the size of the control-command buffer (the longest command: an RSS configuration with a large table). Default 4096.</summary>
    public int ControlBufferSize { get; init; } = 4096;

    /// <summary>Gets how long a control command waits for the device's answer before it fails with <see cref="NetDriverFault.ControlTimeout"/>. Default 1 s;
    /// <see cref="TimeSpan.MaxValue"/> (or any timeout longer than the clock can count) waits for ever.</summary>
    public TimeSpan ControlTimeout { get; init; } = TimeSpan.FromSeconds(1);
}
