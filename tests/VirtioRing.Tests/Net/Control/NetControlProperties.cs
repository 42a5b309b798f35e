using System;
using FsCheck;
using FsCheck.Xunit;
using VirtioRing.Net;
using VirtioRing.Net.Control;
using Xunit;

namespace VirtioRing.Tests.Net.Control;

/// <summary>
/// Arbitrary bytes as control commands (issue 3): the handler never throws, changes nothing unless
/// the command is valid, and when it is valid the new state equals what an independent reference
/// decode of the spec (<see cref="ControlModel"/>) says.
/// </summary>
public class NetControlProperties
{
    [Property(MaxTest = 1000, Arbitrary = new[] { typeof(ControlCommandGen) })]
    public void Handle_ArbitraryCommands_MatchReferenceDecode_AndNeverChangeStateWhenRefused(ControlScenario scenario)
    {
        NetControlLimits limits = ControlRig.Limits();
        var handler = new NetControlHandler(scenario.Features, limits);
        var model = new ControlModel(scenario.Features, limits);
        model.AssertMatches(handler.State);
        foreach (ControlStep step in scenario.Steps)
        {
            if (step.RequestAnnounce)
            {
                bool requested = handler.RequestAnnounce();
                Assert.Equal((scenario.Features & (NetFeatures.CtrlVq | NetFeatures.GuestAnnounce)) == (NetFeatures.CtrlVq | NetFeatures.GuestAnnounce), requested);
                model.Announce |= requested;
                model.AssertMatches(handler.State);
                continue;
            }

            NetControlState before = handler.State;
            var response = new byte[step.ResponseLength];
            ControlResult result = handler.Handle(step.Command, response);
            bool valid = model.Apply(step.Command, step.ResponseLength, out byte[]? expectedResult);

            Assert.Equal(valid, result.Error == NetControlError.None);
            if (step.ResponseLength == 0)
            {
                Assert.Equal(0u, result.WrittenLength);
            }
            else
            {
                Assert.Equal(valid ? (byte)ControlAck.Ok : (byte)ControlAck.Err, response[0]);
                Assert.Equal(1u + (uint)(expectedResult?.Length ?? 0), result.WrittenLength);
                if (expectedResult is not null)
                {
                    Assert.Equal(expectedResult, response.AsSpan(1, expectedResult.Length).ToArray());
                }
            }

            if (!valid || expectedResult is not null)
            {
                Assert.Same(before, handler.State);
            }

            model.AssertMatches(handler.State);
        }
    }

    [Property(MaxTest = 1000)]
    public void Handle_RandomBytes_NeverThrowsAndAnswersOneAckByte(byte[] command, byte writable)
    {
        NetControlHandler handler = ControlRig.Handler();
        var response = new byte[writable % 12];
        NetControlState before = handler.State;
        ControlResult result = handler.Handle(command ?? Array.Empty<byte>(), response);
        Assert.True(result.WrittenLength <= (uint)response.Length);
        if (result.Error != NetControlError.None)
        {
            Assert.Same(before, handler.State);
        }
    }
}
