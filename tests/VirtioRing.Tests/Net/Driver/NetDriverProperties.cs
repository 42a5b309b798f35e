using System;
using System.Collections.Generic;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Net;
using VirtioRing.Net.Driver;

namespace VirtioRing.Tests.Net.Driver;

public class NetDriverProperties
{
    public sealed record Scenario(bool Packed, bool Indirect, bool EventIdx, bool Mergeable, bool Separate, bool InOrder, int[] Lengths, int[] Batches, int Seed)
    {
        public override string ToString() =>
            $"packed={Packed} indirect={Indirect} eventIdx={EventIdx} mergeable={Mergeable} separate={Separate} inOrder={InOrder} lengths=[{string.Join(",", Lengths)}] batches=[{string.Join(",", Batches)}]";
    }

    public static Arbitrary<Scenario> Scenarios() => Arb.From(
        from packed in ArbMap.Default.GeneratorFor<bool>()
        from indirect in ArbMap.Default.GeneratorFor<bool>()
        from eventIdx in ArbMap.Default.GeneratorFor<bool>()
        from mergeable in ArbMap.Default.GeneratorFor<bool>()
        from separate in ArbMap.Default.GeneratorFor<bool>()
        from inOrder in ArbMap.Default.GeneratorFor<bool>()
        from count in Gen.Choose(1, 80)
        from lengths in Gen.ArrayOf(Gen.OneOf(Gen.Choose(1, 128), Gen.Choose(1, mergeable ? 9000 : 1514)), count)
        from batches in Gen.ArrayOf(Gen.Choose(1, 24), 8)
        from seed in Gen.Choose(0, int.MaxValue)
        select new Scenario(packed, indirect, eventIdx, mergeable, separate, inOrder, lengths, batches, seed));

    /// <summary>
    /// Any sequence of frame sizes, sent in bursts the device drains in random batch sizes (the queue
    /// of 16 runs full, so the driver reclaims under pressure), arrives byte for byte and in order;
    /// and the same frames delivered back arrive byte for byte through the receive path.
    /// </summary>
    [Property(Arbitrary = [typeof(NetDriverProperties)], MaxTest = 150)]
    public bool SendReceive_AnyFrameSequence_RoundTripsExactly(Scenario s)
    {
        NetFeatures offer = DriverHarness.Offer(s.Packed, s.Indirect, s.EventIdx, s.Mergeable, s.InOrder);
        using var h = new DriverHarness(offer, queueSize: 16, options: (m, a, l) => new NetDriverOptions(m, a, l)
        {
            MergeableBufferSize = 1024,
            TransmitLayout = s.Separate ? NetTransmitLayout.HeaderSeparate : NetTransmitLayout.HeaderInline,
        });
        var random = new Random(s.Seed);
        byte[][] frames = s.Lengths.Select(n =>
        {
            var f = new byte[n];
            random.NextBytes(f);
            return f;
        }).ToArray();

        // Transmit: send until the queue refuses, then let the device drain a random batch.
        var sent = new List<byte[]>();
        int next = 0, batch = 0;
        while (sent.Count < frames.Length)
        {
            while (next < frames.Length && h.Driver.TrySend(0, frames[next], default))
            {
                next++;
            }

            int take = s.Batches[batch++ % s.Batches.Length];
            for (int i = 0; i < take && h.TryPopTransmit(0, out _, out byte[] f); i++)
            {
                sent.Add(f);
            }
        }

        // Receive: the device fills what buffers it has, the driver drains.
        var received = new List<byte[]>();
        var rx = new byte[9000];
        next = 0;
        while (received.Count < frames.Length)
        {
            int take = s.Batches[batch++ % s.Batches.Length];
            for (int i = 0; i < take && next < frames.Length && h.Deliver(0, frames[next]).IsDelivered; i++)
            {
                next++;
            }

            while (h.Driver.TryReceive(0, rx, out _, out int length))
            {
                received.Add(rx.AsSpan(0, length).ToArray());
            }
        }

        return sent.Count == frames.Length && received.Count == frames.Length &&
            frames.Zip(sent, (a, b) => a.AsSpan().SequenceEqual(b)).All(x => x) &&
            frames.Zip(received, (a, b) => a.AsSpan().SequenceEqual(b)).All(x => x) &&
            h.Driver.GetFault(0) == NetDriverFault.None && h.Driver.GetFault(1) == NetDriverFault.None;
    }
}
