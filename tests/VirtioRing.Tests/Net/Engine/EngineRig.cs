using System;
using System.Collections.Generic;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;

namespace VirtioRing.Tests.Net.Engine;

/// <summary>
/// A <see cref="NetDevice"/> over a <see cref="LoopbackBackend"/>, with the test acting as the guest
/// through the driver-side queues directly (one ring pair per virtqueue, split or packed).
/// </summary>
internal sealed class EngineRig : IDisposable
{
    public const NetFeatures Base = NetFeatures.Version1 | NetFeatures.MrgRxBuf | NetFeatures.CtrlVq | NetFeatures.Mq | NetFeatures.CtrlRx | NetFeatures.Mac;
    public const int SlotSize = 2048;

    private readonly Dictionary<ulong, BufferSegment[]>[] _tokens;
    private ulong _next = 1;

    public EngineRig(QueueKind kind, int pairs = 1, NetFeatures accept = Base, LoopbackMode mode = LoopbackMode.Echo,
        NetWorkerMode worker = NetWorkerMode.Manual, NetOffloads backendOffloads = NetOffloads.None, int queueSize = 64, int backendCapacity = 128,
        int backendQueues = -1, INetBackend? backend = null)
    {
        Kind = kind;
        Backend = new LoopbackBackend(mode, backendQueues < 0 ? pairs : backendQueues, backendOffloads, backendCapacity, maxFrameLength: 70000);
        Device = new NetDevice(new NetDeviceOptions { Backend = backend ?? Backend, MaxQueuePairs = pairs, WorkerMode = worker, Name = "rig" });
        if (kind == QueueKind.Packed)
        {
            accept |= NetFeatures.RingPacked;
        }

        NetFeatureCheck check = Device.SetDriverFeatures(accept);
        Assert.True(check.IsValid, check.ToString());
        int n = 2 * pairs + 1;
        Queues = new QueuePair[n];
        Calls = new Doorbell[n];
        _tokens = new Dictionary<ulong, BufferSegment[]>[n];
        for (int i = 0; i < n; i++)
        {
            Queues[i] = QueuePairFactory.Create(kind, queueSize, Device.QueueFeatures, bufferSlotSize: SlotSize);
            Calls[i] = new Doorbell();
            _tokens[i] = [];
            Device.SetQueue(i, Queues[i].Device, Calls[i]);
        }
    }

    public QueueKind Kind { get; }

    public NetDevice Device { get; }

    public LoopbackBackend Backend { get; }

    public QueuePair[] Queues { get; }

    public Doorbell[] Calls { get; }

    public NetHeaderLayout Layout => Device.Layout;

    public IDriverQueue Rx(int pair) => Queues[2 * pair].Driver;

    public IDriverQueue Tx(int pair) => Queues[(2 * pair) + 1].Driver;

    /// <summary>Adds a transmit chain (header + frame split into slot-sized readable pieces) and kicks.</summary>
    public bool Send(int pair, VirtioNetHeader header, ReadOnlySpan<byte> frame, bool kick = true, int pieceSize = SlotSize)
    {
        int q = (2 * pair) + 1;
        QueuePair qp = Queues[q];
        var all = new byte[Layout.Size + frame.Length];
        header.Write(all, Layout);
        frame.CopyTo(all.AsSpan(Layout.Size));
        var segs = new List<BufferSegment>();
        for (int at = 0; at < all.Length; at += pieceSize)
        {
            int n = Math.Min(pieceSize, all.Length - at);
            GuestAddress a = qp.Buffers.Rent();
            all.AsSpan(at, n).CopyTo(qp.Memory.GetSpan(a, (ulong)n));
            segs.Add(BufferSegment.Readable(a, (uint)n));
        }

        BufferSegment[] arr = segs.ToArray();
        ulong token = _next++;
        if (!qp.Driver.TryAddChain(arr, token))
        {
            foreach (BufferSegment s in arr)
            {
                qp.Buffers.Return(s.Address);
            }

            return false;
        }

        _tokens[q][token] = arr;
        qp.Driver.PublishAvailable();
        if (kick)
        {
            Device.Kick(q);
        }

        return true;
    }

    /// <summary>Adds raw readable bytes as one chain (a bad header test).</summary>
    public void SendRaw(int pair, byte[] bytes)
    {
        int q = (2 * pair) + 1;
        QueuePair qp = Queues[q];
        GuestAddress a = qp.Buffers.Rent();
        bytes.CopyTo(qp.Memory.GetSpan(a, (ulong)bytes.Length));
        BufferSegment[] arr = [BufferSegment.Readable(a, (uint)bytes.Length)];
        ulong token = _next++;
        Assert.True(qp.Driver.TryAddChain(arr, token));
        _tokens[q][token] = arr;
        qp.Driver.PublishAvailable();
        Device.Kick(q);
    }

    /// <summary>Posts up to <paramref name="count"/> receive buffers (fewer when the ring fills) and kicks.</summary>
    public void PostRx(int pair, int count, int length = SlotSize)
    {
        int q = 2 * pair;
        QueuePair qp = Queues[q];
        for (int i = 0; i < count; i++)
        {
            GuestAddress a = qp.Buffers.Rent();
            BufferSegment[] arr = [BufferSegment.Writable(a, (uint)length)];
            ulong token = _next++;
            if (!qp.Driver.TryAddChain(arr, token))
            {
                qp.Buffers.Return(a);   // the ring is full: enough posted
                break;
            }

            _tokens[q][token] = arr;
        }

        qp.Driver.PublishAvailable();
        Device.Kick(q);
    }

    /// <summary>Reclaims used transmit chains; returns how many.</summary>
    public int ReclaimTx(int pair)
    {
        int q = (2 * pair) + 1;
        int n = 0;
        while (Queues[q].Driver.TryReclaimUsed(out UsedBuffer used) == PopStatus.Popped)
        {
            foreach (BufferSegment s in _tokens[q][used.Token])
            {
                Queues[q].Buffers.Return(s.Address);
            }

            _tokens[q].Remove(used.Token);
            n++;
        }

        return n;
    }

    /// <summary>Reclaims every received frame (reassembling num_buffers).</summary>
    public List<(VirtioNetHeader Header, byte[] Frame)> ReceiveAll(int pair)
    {
        int q = 2 * pair;
        QueuePair qp = Queues[q];
        var frames = new List<(VirtioNetHeader, byte[])>();
        while (qp.Driver.TryReclaimUsed(out UsedBuffer used) == PopStatus.Popped)
        {
            var bytes = new List<byte>(Take(q, used));
            VirtioNetHeader h = VirtioNetHeader.Read(bytes.ToArray(), Layout);
            int buffers = (Device.NegotiatedFeatures & NetFeatures.MrgRxBuf) != 0 ? h.NumBuffers : 1;
            Assert.True(buffers >= 1);
            for (int i = 1; i < buffers; i++)
            {
                Assert.Equal(PopStatus.Popped, qp.Driver.TryReclaimUsed(out UsedBuffer more));
                bytes.AddRange(Take(q, more));
            }

            frames.Add((h, bytes.GetRange(Layout.Size, bytes.Count - Layout.Size).ToArray()));
        }

        return frames;
    }

    public void PollAll(int rounds = 4)
    {
        for (int r = 0; r < rounds; r++)
        {
            for (int p = 0; p < Device.MaxQueuePairs; p++)
            {
                Device.GetPair(p).Poll(64);
            }
        }
    }

    public void Dispose()
    {
        Device.Dispose();
        foreach (QueuePair q in Queues)
        {
            Assert.True(q.GuardedMemory.GuardsIntact());
            q.Dispose();
        }

        foreach (Doorbell d in Calls)
        {
            d.Dispose();
        }
    }

    private byte[] Take(int q, UsedBuffer used)
    {
        BufferSegment[] segs = _tokens[q][used.Token];
        _tokens[q].Remove(used.Token);
        var bytes = new List<byte>();
        uint left = used.WrittenLength;
        foreach (BufferSegment s in segs)
        {
            int n = (int)Math.Min(left, s.Length);
            bytes.AddRange(Queues[q].Memory.GetSpan(s.Address, (ulong)n).ToArray());
            left -= (uint)n;
            Queues[q].Buffers.Return(s.Address);
        }

        return bytes.ToArray();
    }
}
