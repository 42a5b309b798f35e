using System;
using System.Collections.Generic;
using VirtioRing.Memory;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Switching;
using VirtioRing.Queues;
using VirtioRing.TestKit;
using Xunit;
using static VirtioRing.Tests.Net.Switching.SwitchFrames;
using static VirtioRing.Tests.Net.Switching.SwitchGuests;

namespace VirtioRing.Tests.Net.Switching;

/// <summary>Filters inspect a private copy: what they accept is what is delivered (review 4, finding 1).</summary>
public class NetSwitchFilterCopyTests
{
    /// <summary>Accepts, then (as another vCPU of the sending guest would) overwrites the frame in guest memory.</summary>
    private sealed class RewritingFilter(GuestMemory memory, List<(GuestAddress Address, int Length)> segments) : INetSwitchFilter
    {
        public List<byte[]> Seen { get; } = [];

        public NetSwitchFilterVerdict Inspect(in NetFrame frame, NetSwitchPort source, NetSwitchPort destination)
        {
            var bytes = new byte[frame.Length];
            frame.CopyTo(bytes);
            Seen.Add(bytes);
            foreach ((GuestAddress address, int length) in segments)
            {
                byte[] evil = new byte[length];
                evil.AsSpan().Fill(0xEE);
                memory.Write(address, evil);
            }

            return NetSwitchFilterVerdict.Accept;
        }
    }

    [Theory]
    [InlineData(QueueKind.Split, true)]
    [InlineData(QueueKind.Split, false)]
    [InlineData(QueueKind.Packed, true)]
    [InlineData(QueueKind.Packed, false)]
    public void Transmit_FilterAcceptsThenSenderRewritesChain_ReceiverGetsTheInspectedBytes(QueueKind kind, bool ingress)
    {
        var sw = new NetSwitch(new NetSwitchOptions { GuestPortQueues = 2 });
        var g = Guests(sw, 2);
        using QueuePair pair = QueuePairFactory.Create(kind, 16, VirtqueueFeatures.None);
        byte[] frame = Build(MacAddress.Broadcast, Mac(0), 300, 9);
        byte[] readable = new byte[12 + frame.Length];
        frame.CopyTo(readable, 12);
        var segments = new List<BufferSegment>();
        var written = new List<(GuestAddress, int)>();
        foreach ((int at, int n) in new[] { (0, 17), (17, 5), (22, 200), (222, readable.Length - 222) })
        {
            GuestAddress address = pair.Buffers.Rent();
            pair.Memory.Write(address, readable.AsSpan(at, n));
            segments.Add(BufferSegment.Readable(address, (uint)n));
            written.Add((address, n));
        }

        Assert.True(pair.Driver.TryAddChain(segments.ToArray(), 1));
        pair.Driver.PublishAvailable();
        Assert.Equal(PopStatus.Popped, pair.Device.TryPopAvailable(out DescriptorChain chain));
        var filter = new RewritingFilter(pair.Memory, written);
        if (ingress)
        {
            g[0].Port.IngressFilter = filter;
        }
        else
        {
            g[1].Port.EgressFilter = filter;
        }

        Assert.Equal(NetTransmitStatus.Sent, ((INetBackend)g[0].Port).Transmit(0, NetFrame.FromChain(default, chain, 12, frame.Length)));

        Assert.Equal(frame, Assert.Single(filter.Seen));
        Assert.Equal(frame, Assert.Single(g[1].Host.Delivered).Bytes);
        pair.Device.PushUsed(chain, 0);
        Assert.True(pair.GuardedMemory.GuardsIntact());
    }

    [Fact]
    public void Transmit_FilterRemoved_FramesStillForwarded()
    {
        var sw = new NetSwitch(new NetSwitchOptions { GuestPortQueues = 2 });
        var g = Guests(sw, 2);
        var filter = new RewritingFilter(null!, []);
        g[1].Port.EgressFilter = filter;
        g[1].Port.EgressFilter = null;
        g[0].Port.IngressFilter = filter;
        g[0].Port.IngressFilter = null;
        byte[] frame = Build(MacAddress.Broadcast, Mac(0), 80, 1);

        Assert.Equal(NetTransmitStatus.Sent, Send(g[0].Port, frame));
        Assert.Equal(frame, Assert.Single(g[1].Host.Delivered).Bytes);
        Assert.Empty(filter.Seen);
    }
}
