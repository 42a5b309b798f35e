using System;
using System.Collections.Generic;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Control;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Rx;
using VirtioRing.Queues;

namespace VirtioRing.Tests.Net.Driver;

/// <summary>
/// A NetDriver over rings laid out by NetDriverRings, and a tiny test device over the same rings:
/// device queues, a NetReceiveWriter per receive queue, and a NetControlHandler answering the control
/// queue inline from the driver's kick. No NetDevice engine involved.
/// </summary>
internal sealed class DriverHarness : IDisposable
{
    public const ulong MemoryStart = 0x10000;
    public const NetFeatures DeviceOffer =
        NetFeatures.Version1 | NetFeatures.Mac | NetFeatures.MrgRxBuf | NetFeatures.CtrlVq | NetFeatures.CtrlRx | NetFeatures.CtrlVlan |
        NetFeatures.CtrlMacAddr | NetFeatures.Mq | NetFeatures.Rss | NetFeatures.Csum | NetFeatures.HostTso4 | NetFeatures.HostTso6 |
        NetFeatures.GuestCsum | NetFeatures.GuestTso4 | NetFeatures.GuestTso6 | NetFeatures.CtrlGuestOffloads;

    private readonly ReceiveWriterSlot[] _writers;

    public DriverHarness(NetFeatures offer, int pairs = 1, int queueSize = 64, int maxIndirect = 8,
        Func<GuestMemory, GuestAddress, ulong, NetDriverOptions>? options = null, bool controlAnswers = true, int maxDevicePairs = 0)
    {
        options ??= (m, a, l) => new NetDriverOptions(m, a, l) { QueuePairs = pairs };
        ulong ringBytes = NetDriverRings.GetRequiredBytes(pairs, queueSize, offer, maxIndirect);
        ulong bufferBytes;
        using (GuestMemory probeMemory = GuestMemory.Allocate(new GuestAddress(MemoryStart), 4096))
        {
            var probe = new NetDriver(options(probeMemory, new GuestAddress(MemoryStart), 4096));
            probe.Negotiate(offer);
            bufferBytes = probe.GetBufferAreaBytes(queueSize);
        }

        ulong bufferStart = MemoryStart + ((ringBytes + 4095) & ~4095UL);
        Memory = GuestMemory.Allocate(new GuestAddress(MemoryStart), bufferStart - MemoryStart + bufferBytes);
        NetDriverOptions o = options(Memory, new GuestAddress(bufferStart), bufferBytes);
        Driver = new NetDriver(o);
        Negotiated = Driver.Negotiate(offer);
        Rings = NetDriverRings.Create(Memory, new GuestAddress(MemoryStart), ringBytes, pairs, queueSize, Negotiated, maxIndirect);
        Device = new IDeviceQueue[Rings.Count];
        Kicks = new CountingNotifier[Rings.Count];
        var notifiers = new INotifier?[Rings.Count];
        for (int i = 0; i < Rings.Count; i++)
        {
            Device[i] = Rings[i].CreateDeviceQueue();
            Kicks[i] = new CountingNotifier();
            notifiers[i] = Kicks[i];
        }

        if (Rings.HasControlQueue)
        {
            Handler = new NetControlHandler(Negotiated, new NetControlLimits
            {
                Mac = new MacAddress(0x5254_0000_0001UL),
                MaxQueuePairs = maxDevicePairs == 0 ? pairs : maxDevicePairs,
                SupportedHashTypes = VirtioRing.Net.Multiqueue.NetHashTypes.IPv4 | VirtioRing.Net.Multiqueue.NetHashTypes.TcpV4 |
                    VirtioRing.Net.Multiqueue.NetHashTypes.UdpV4,
            });
            int c = Rings.Count - 1;
            IDeviceQueue controlQueue = Device[c];
            NetControlHandler handler = Handler;
            if (controlAnswers)
            {
                notifiers[c] = new ActionNotifier(() =>
                {
                    Kicks[c].Notify();
                    handler.ProcessAvailable(controlQueue);
                });
            }
        }

        Layout = NetHeaderLayout.For(Negotiated);
        _writers = new ReceiveWriterSlot[pairs];
        for (int p = 0; p < pairs; p++)
        {
            _writers[p] = new ReceiveWriterSlot(new NetReceiveWriter(Device[2 * p], Layout, NetReceiveWriter.ModeFor(Negotiated)));
        }

        Driver.Bind(Rings, notifiers);
    }

    public GuestMemory Memory { get; }

    public NetDriver Driver { get; }

    public NetFeatures Negotiated { get; }

    public NetDriverRings Rings { get; }

    public IDeviceQueue[] Device { get; }

    public CountingNotifier[] Kicks { get; }

    public NetControlHandler? Handler { get; }

    public NetHeaderLayout Layout { get; }

    public static NetFeatures Offer(bool packed, bool indirect, bool eventIdx, bool mergeable = true, bool inOrder = false)
    {
        NetFeatures f = DeviceOffer;
        if (!mergeable)
        {
            f &= ~NetFeatures.MrgRxBuf;
        }

        if (packed)
        {
            f |= NetFeatures.RingPacked;
        }

        if (indirect)
        {
            f |= NetFeatures.IndirectDesc;
        }

        if (eventIdx)
        {
            f |= NetFeatures.EventIdx;
        }

        if (inOrder)
        {
            f |= NetFeatures.InOrder;
        }

        return f;
    }

    /// <summary>Device: pops one transmit chain of pair p, reads header and frame, pushes it used and publishes.</summary>
    public bool TryPopTransmit(int pair, out VirtioNetHeader header, out byte[] frame, bool complete = true)
    {
        IDeviceQueue q = Device[(2 * pair) + 1];
        if (q.TryPopAvailable(out DescriptorChain chain) != PopStatus.Popped)
        {
            header = default;
            frame = [];
            return false;
        }

        NetHeaderError e = VirtioNetHeader.ReadTransmit(chain, Layout, Negotiated, out header, out int length);
        if (e != NetHeaderError.None)
        {
            throw new InvalidOperationException("The driver sent a bad header: " + e);
        }

        frame = new byte[length];
        chain.CopyFromReadable((uint)Layout.Size, frame);
        LastTransmitSegments = chain.SegmentCount;
        if (complete)
        {
            q.PushUsed(chain, 0);
            q.PublishUsed();
        }
        else
        {
            Held.Add(chain);
        }

        return true;
    }

    public List<DescriptorChain> Held { get; } = [];

    public int LastTransmitSegments { get; private set; }

    /// <summary>Device: completes the chains held by <see cref="TryPopTransmit"/> with complete: false.</summary>
    public void CompleteHeld(int pair)
    {
        IDeviceQueue q = Device[(2 * pair) + 1];
        foreach (DescriptorChain c in Held)
        {
            q.PushUsed(c, 0);
        }

        Held.Clear();
        q.PublishUsed();
    }

    /// <summary>Device: writes a frame into receive buffers of pair p and publishes.</summary>
    public NetReceiveResult Deliver(int pair, ReadOnlySpan<byte> frame, VirtioNetHeader header = default)
    {
        NetReceiveResult r = _writers[pair].Writer.Deliver(header, frame);
        Device[2 * pair].PublishUsed();
        return r;
    }

    public void Dispose() => Memory.Dispose();

    private sealed class ReceiveWriterSlot(NetReceiveWriter writer)
    {
        public NetReceiveWriter Writer { get; } = writer;
    }
}

internal sealed class CountingNotifier : INotifier
{
    public int Count { get; private set; }

    public void Notify() => Count++;
}

internal sealed class ActionNotifier(Action action) : INotifier
{
    public void Notify() => action();
}
