using System;
using System.Collections.Generic;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Net;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Switching;
using static VirtioRing.Tests.Net.Switching.SwitchFrames;

namespace VirtioRing.Tests.Net.Switching;

/// <summary>One step of a scenario: a frame sent by a port, or time passing beyond the aging time.</summary>
public sealed record SwitchOp(bool Age, int Port, int Source, int Destination, int BusyPort, int Queue)
{
    public override string ToString() => Age
        ? "age"
        : $"p{Port}/q{Queue}: {Source}->{(Destination == 6 ? "bcast" : Destination == 7 ? "mcast" : Destination.ToString(System.Globalization.CultureInfo.InvariantCulture))}{(BusyPort >= 0 ? $" busy p{BusyPort}" : "")}";
}

public class NetSwitchProperties
{
    private const int Ports = 4;

    private static Gen<SwitchOp> Op() =>
        from age in Gen.Frequency((1, Gen.Constant(true)), (12, Gen.Constant(false)))
        from port in Gen.Choose(0, Ports - 1)
        from src in Gen.Choose(0, 5)
        from dst in Gen.Choose(0, 7)
        from busy in Gen.Frequency((3, Gen.Constant(-1)), (1, Gen.Choose(0, Ports - 1)))
        from queue in Gen.Choose(0, 1)
        select new SwitchOp(age, port, src, dst, busy, queue);

    private static Arbitrary<(bool Lossless, SwitchOp[] Ops)> Scenarios() =>
        Arb.From(from lossless in Gen.Elements(true, false)
                 from ops in Gen.ListOf(Op()).Select(l => l.ToArray())
                 select (lossless, ops));

    /// <summary>
    /// For any sequence of frames, each frame reaches exactly the ports the switch rules say (learn the source, known
    /// unicast to its port unless that is the sender's, everything else to all but the sender), byte for byte, exactly
    /// once; in lossless mode a receiver out of buffers still gets it after the retry, in drop mode it does not.
    /// </summary>
    [Property(MaxTest = 1000)]
    public Property Forward_AnyFrameSequence_ReachesExactlyTheModelsPorts() => Prop.ForAll(Scenarios(), s => Run(s.Lossless, s.Ops));

    private static bool Run(bool lossless, SwitchOp[] ops)
    {
        var clock = new ManualClock();
        var sw = new NetSwitch(new NetSwitchOptions
        {
            Clock = clock,
            MacAgingTime = TimeSpan.FromSeconds(10),
            GuestPortQueues = 2,
            FlowControl = lossless ? NetSwitchFlowControl.Lossless : NetSwitchFlowControl.DropAndCount,
        });
        var ports = new NetSwitchPort[Ports];
        var hosts = new FakeHost[Ports];
        for (int i = 0; i < Ports; i++)
        {
            ports[i] = sw.AddGuestPort("p" + i);
            hosts[i] = new FakeHost();
            ((INetBackend)ports[i]).Attach(hosts[i]);
        }

        var model = new Dictionary<int, int>();   // source index → port
        for (int seq = 0; seq < ops.Length; seq++)
        {
            SwitchOp op = ops[seq];
            if (op.Age)
            {
                clock.Advance(TimeSpan.FromSeconds(11));
                model.Clear();
                continue;
            }

            // Reference model: learn, then decide.
            model[op.Source] = op.Port;
            HashSet<int> expected = op.Destination < 6 && model.TryGetValue(op.Destination, out int owner)
                ? owner == op.Port ? [] : [owner]
                : Enumerable.Range(0, Ports).Where(p => p != op.Port).ToHashSet();
            bool busyApplies = op.BusyPort >= 0 && expected.Contains(op.BusyPort);
            if (busyApplies && !lossless)
            {
                expected.Remove(op.BusyPort);
            }

            MacAddress dst = op.Destination switch { 6 => MacAddress.Broadcast, 7 => new MacAddress(0x3333_0000_0001UL), _ => Mac(op.Destination) };
            byte[] frame = Build(dst, Mac(op.Source), 64 + (seq % 7));
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(14), seq);

            if (op.BusyPort >= 0)
            {
                hosts[op.BusyPort].NoBuffers = true;
            }

            var tx = (INetBackend)ports[op.Port];
            NetTransmitStatus status = tx.Transmit(op.Queue, NetFrame.FromSpan(default, frame));
            if (op.BusyPort >= 0)
            {
                hosts[op.BusyPort].PostBuffers();
            }

            if (status == NetTransmitStatus.Busy)
            {
                if (!lossless || !busyApplies)
                {
                    return false;
                }

                status = tx.Transmit(op.Queue, NetFrame.FromSpan(default, frame));
            }
            else if (lossless && busyApplies)
            {
                return false;   // a receiver without buffers must hold the sender in lossless mode
            }

            tx.FlushTransmit(op.Queue);
            for (int p = 0; p < Ports; p++)
            {
                int copies = 0;
                foreach (CapturedFrame f in hosts[p].Delivered)
                {
                    if (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(f.Bytes.AsSpan(14)) == seq)
                    {
                        copies++;
                        if (!f.Bytes.AsSpan().SequenceEqual(frame))
                        {
                            return false;
                        }
                    }
                }

                if (copies != (expected.Contains(p) ? 1 : 0))
                {
                    return false;
                }
            }

            if (expected.Count > 0 && status != NetTransmitStatus.Sent)
            {
                return false;
            }
        }

        return true;
    }
}
