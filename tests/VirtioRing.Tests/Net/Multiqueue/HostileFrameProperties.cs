using System;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VirtioRing.Net.Multiqueue;
using static VirtioRing.Tests.Net.Multiqueue.TestFrames;

namespace VirtioRing.Tests.Net.Multiqueue;

/// <summary>
/// Hostile frames (random bytes, valid frames with bytes overwritten, truncated at any point) never make the
/// classifier, the steering or the selectors throw — span reads are bounds-checked, so a read outside the frame
/// would throw — and every answer stays in range.
/// </summary>
public class HostileFrameProperties
{
    private const NetHashTypes All = (NetHashTypes)0x1FF;

    private static readonly byte[][] Seeds =
    [
        IPv4("10.0.0.1", "10.0.0.2", Tcp, 1, 2),
        IPv4("10.0.0.1", "10.0.0.2", Udp, 1, 2, vlan: 7, optionsLength: 8),
        IPv6("2001:db8::1", "2001:db8::2", Tcp, 1, 2, [HopByHop(), RoutingType2("2001:db8::3"), DestinationOptionsWithHomeAddress("2001:db8::4")]),
        IPv6("2001:db8::1", "2001:db8::2", Udp, 1, 2, [Fragment(0), (51, new byte[16])]),
        IPv6("2001:db8::1", "2001:db8::2", Icmp6),
    ];

    private static readonly NetHashCalculator Calculator = new(All, MicrosoftKey);
    private static readonly RssConfiguration Rss = new(All, MicrosoftKey, [0, 1, 2, 3, 4, 5, 6, 7], 3);
    private static readonly FlowHashTxQueueSelector ReplyAligned = new(Rss);
    private static readonly FlowHashTxQueueSelector Symmetric = new();
    private static readonly DestinationMacTxQueueSelector ByMac = CreateMacSelector();

    public static Arbitrary<byte[]> HostileFrames() => Arb.From(Gen.OneOf(
        Gen.ArrayOf(ArbMap.Default.GeneratorFor<byte>()),
        from seed in Gen.Elements(Seeds)
        from edits in Gen.ListOf(Gen.Zip(Gen.Choose(0, 200), ArbMap.Default.GeneratorFor<byte>()))
        from cut in Gen.Choose(0, 200)
        select Mutate(seed, edits, cut)));

    [Property(MaxTest = 2000)]
    public Property Everything_HostileFrame_NeverThrowsAndStaysInRange() => Prop.ForAll(HostileFrames(), Check);

    private static bool Check(byte[] frame)
    {
        NetHashResult hash = Calculator.Calculate(frame);
        if (!Enum.IsDefined(hash.Report) || (hash.Report == NetHashReport.None && hash.Value != 0))
        {
            return false;
        }

        Span<byte> input = stackalloc byte[NetHashCalculator.MaxHashInputLength];
        NetHashCalculator.SelectHashInput(frame, All, input, out int length);
        RssDecision decision = Rss.Steering.Steer(frame);
        var auto = new AutomaticReceiveSteering(8, 16);
        auto.SetActivePairs(5);
        auto.RecordTransmit(frame, 4);
        return length <= 36
            && decision.ReceiveQueue < 8
            && decision.Hash == hash
            && auto.SelectReceiveQueue(frame) < 5
            && ReplyAligned.SelectTransmitQueue(frame, 3) < 3
            && Symmetric.SelectTransmitQueue(frame, 3) < 3
            && ByMac.SelectTransmitQueue(frame, 2) < 2;
    }

    [Property(MaxTest = 200)]
    public bool Calculate_EveryPrefixOfValidFrames_NeverThrows(byte seedIndex)
    {
        byte[] seed = Seeds[seedIndex % Seeds.Length];
        for (int n = 0; n <= seed.Length; n++)
        {
            _ = Calculator.Calculate(seed.AsSpan(0, n));
            _ = Rss.Steering.Steer(seed.AsSpan(0, n));
        }

        return true;
    }

    private static byte[] Mutate(byte[] seed, System.Collections.Generic.List<(int, byte)> edits, int cut)
    {
        byte[] frame = (byte[])seed.Clone();
        foreach (var (position, value) in edits)
        {
            frame[position % frame.Length] = value;
        }

        return cut < frame.Length ? frame.AsSpan(0, cut).ToArray() : frame;
    }

    private static DestinationMacTxQueueSelector CreateMacSelector()
    {
        var selector = new DestinationMacTxQueueSelector(4, defaultQueue: 1);
        selector.TryAssign(DestinationMac, 5);
        return selector;
    }
}
