using System;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using VirtioRing.Net.Multiqueue;

namespace VirtioRing.Tests.Net.Control;

/// <summary>One step of a property run: a command (or an announce request) and the writable length offered.</summary>
public sealed record ControlStep(byte[] Command, int ResponseLength, bool RequestAnnounce)
{
    public override string ToString() =>
        RequestAnnounce ? "RequestAnnounce" : $"{Convert.ToHexString(Command)} (+{ResponseLength} writable)";
}

/// <summary>A feature set and a sequence of steps.</summary>
public sealed record ControlScenario(NetFeatures Features, ControlStep[] Steps)
{
    public override string ToString() => $"{Features}: " + string.Join(" | ", Steps.Select(s => s.ToString()));
}

/// <summary>Generators: valid commands from the encoder, mutations of them, and raw bytes biased to small values.</summary>
public static class ControlCommandGen
{
    private static readonly NetFeatures[] ControlBits =
    {
        NetFeatures.CtrlRx, NetFeatures.CtrlRxExtra, NetFeatures.CtrlVlan, NetFeatures.GuestAnnounce, NetFeatures.Mq,
        NetFeatures.CtrlMacAddr, NetFeatures.Rss, NetFeatures.HashReport, NetFeatures.CtrlGuestOffloads, NetFeatures.NotfCoal,
        NetFeatures.VqNotfCoal,
    };

    private static Gen<byte> SmallByte => Gen.Frequency((6, Gen.Choose(0, 4).Select(i => (byte)i)), (2, Gen.Choose(0, 255).Select(i => (byte)i)));

    private static Gen<ushort> SmallUShort => Gen.Frequency((6, Gen.Choose(0, 5).Select(i => (ushort)i)), (1, Gen.Choose(0, 0xFFFF).Select(i => (ushort)i)));

    private static Gen<MacAddress> Mac => Gen.Elements(
        MacAddress.Parse("02:00:00:00:00:01"), MacAddress.Parse("02:00:00:00:00:02"), MacAddress.Parse("01:00:5e:00:00:01"),
        MacAddress.Parse("33:33:00:00:00:01"), MacAddress.Broadcast, ControlRig.DeviceMac);

    private static Gen<byte[]> Key => Gen.Frequency(
        (1, Gen.Constant(Array.Empty<byte>())),
        (4, Gen.Choose(1, 40).SelectMany(n => Gen.ArrayOf(SmallByte, n))),
        (1, Gen.Constant(new byte[41])));

    private static Gen<NetHashTypes> HashTypes => Gen.Frequency(
        (1, Gen.Constant(NetHashTypes.None)),
        (4, Gen.Choose(1, 0x1B).Select(i => (NetHashTypes)(i & 0x1B))),
        (1, Gen.Choose(0, 0x1FF).Select(i => (NetHashTypes)i)));

    public static Gen<byte[]> ValidLooking => Gen.OneOf(
        from mode in Gen.Choose(0, 5)
        from enabled in Gen.Elements(true, false)
        select ControlRig.Encode(b => NetControlEncoder.WriteRxMode(b, (NetRxMode)(1 << mode), enabled)),
        from u in Gen.Choose(0, 6).SelectMany(n => Gen.ArrayOf(Mac, n))
        from m in Gen.Choose(0, 6).SelectMany(n => Gen.ArrayOf(Mac, n))
        select ControlRig.Encode(b => NetControlEncoder.WriteMacTable(b, u, m)),
        Mac.Select(mac => ControlRig.Encode(b => NetControlEncoder.WriteMacAddress(b, mac))),
        from add in Gen.Elements(true, false)
        from vid in Gen.Elements(0, 1, 100, 4095)
        select ControlRig.Encode(b => NetControlEncoder.WriteVlan(b, add, (ushort)vid)),
        Gen.Constant(ControlRig.Encode(b => NetControlEncoder.WriteAnnounceAck(b))),
        Gen.Choose(1, 6).Select(n => ControlRig.Encode(b => NetControlEncoder.WriteQueuePairs(b, (ushort)n))),
        from types in HashTypes
        from log in Gen.Choose(0, 8)
        from table in Gen.ArrayOf(Gen.Frequency((8, Gen.Choose(0, 3)), (1, Gen.Choose(0, 7))).Select(i => (ushort)i), 1 << log)
        from unclassified in Gen.Choose(0, 4)
        from maxTx in Gen.Choose(0, 5)
        from key in Key
        select ControlRig.Encode(b => NetControlEncoder.WriteRssConfig(b, types, table, (ushort)unclassified, (ushort)maxTx, key)),
        from types in HashTypes
        from key in Key
        select ControlRig.Encode(b => NetControlEncoder.WriteHashConfig(b, types, key)),
        Gen.Elements(NetFeatures.None, NetFeatures.GuestCsum, NetFeatures.GuestCsum | NetFeatures.GuestTso4, NetFeatures.GuestUfo, NetFeatures.Mq)
            .Select(o => ControlRig.Encode(b => NetControlEncoder.WriteGuestOffloads(b, o))),
        from tx in Gen.Elements(true, false)
        from p in Gen.Choose(0, 64)
        from u in Gen.Choose(0, 64)
        select ControlRig.Encode(b => NetControlEncoder.WriteCoalescing(b, tx, new NotificationCoalescing((uint)p, (uint)u))),
        from q in Gen.Choose(0, 9)
        from p in Gen.Choose(0, 64)
        select ControlRig.Encode(b => NetControlEncoder.WriteQueueCoalescingSet(b, (ushort)q, new NotificationCoalescing((uint)p, 3))),
        Gen.Choose(0, 9).Select(q => ControlRig.Encode(b => NetControlEncoder.WriteQueueCoalescingGet(b, (ushort)q))));

    private static Gen<byte[]> Mutated => Gen.OneOf(
        from c in ValidLooking
        from at in Gen.Choose(0, 1000)
        from value in SmallByte
        select Replace(c, at, value),
        from c in ValidLooking
        from cut in Gen.Choose(1, 3)
        select c.AsSpan(0, Math.Max(0, c.Length - cut)).ToArray(),
        from c in ValidLooking
        from extra in Gen.ArrayOf(SmallByte, 1)
        select c.Concat(extra).ToArray());

    private static Gen<byte[]> Raw =>
        from cls in Gen.Frequency((8, Gen.Choose(0, 7)), (1, Gen.Choose(0, 255)))
        from cmd in Gen.Frequency((8, Gen.Choose(0, 4)), (1, Gen.Choose(0, 255)))
        from data in Gen.Choose(0, 16).SelectMany(n => Gen.ArrayOf(SmallByte, n))
        from whole in Gen.Frequency((12, Gen.Constant(true)), (1, Gen.Constant(false)))
        select whole ? new[] { (byte)cls, (byte)cmd }.Concat(data).ToArray() : new[] { (byte)cls };

    public static Gen<ControlStep> Step =>
        from command in Gen.Frequency((5, ValidLooking), (3, Mutated), (2, Raw))
        from response in Gen.Frequency((10, Gen.Constant(9)), (2, Gen.Constant(1)), (1, Gen.Constant(0)))
        from announce in Gen.Frequency((12, Gen.Constant(false)), (1, Gen.Constant(true)))
        select new ControlStep(command, response, announce);

    public static Gen<NetFeatures> Features =>
        Gen.Frequency(
            (3, Gen.Constant(ControlRig.AllControl)),
            (2, Gen.ArrayOf(Gen.Elements(true, false), ControlBits.Length).Select(mask =>
            {
                NetFeatures f = NetFeatures.CtrlVq | NetFeatures.GuestCsum | NetFeatures.GuestTso4;
                for (int i = 0; i < mask.Length; i++)
                {
                    f |= mask[i] ? ControlBits[i] : NetFeatures.None;
                }

                return f;
            })),
            (1, Gen.Constant(ControlRig.AllControl & ~NetFeatures.CtrlVq)));

    public static Arbitrary<ControlScenario> Scenarios() => Arb.From(
        from features in Features
        from steps in Gen.Choose(1, 24).SelectMany(n => Gen.ArrayOf(Step, n))
        select new ControlScenario(features, steps));

    private static byte[] Replace(byte[] c, int at, byte value)
    {
        var copy = (byte[])c.Clone();
        if (copy.Length > 0)
        {
            copy[at % copy.Length] = value;
        }

        return copy;
    }
}
