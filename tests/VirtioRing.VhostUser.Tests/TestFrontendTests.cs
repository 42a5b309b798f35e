using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Tests.Infrastructure;
using VirtioRing.VhostUser.Transport;
using Xunit;

namespace VirtioRing.VhostUser.Tests;

/// <summary>
/// The test front-end's waits survive signals. A child process started on the test's thread (a QEMU guest in the
/// interop tests) interrupts that thread's <c>poll</c> when it exits (SIGCHLD goes to the thread that forked it, and
/// <c>poll</c> is never restarted): taken for "no reply" or "not closed", that made a healthy back-end look hung.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class TestFrontendTests
{
    [Fact]
    public void Receive_ChildOfTheWaitingThreadExits_StillGetsTheLaterReply()
    {
        (VhostUserChannel first, VhostUserChannel second) = VhostUserChannel.CreatePair();
        using var frontend = new TestFrontend(first);
        using (second)
        {
            using Process child = StartChild();
            Task reply = Task.Run(() =>
            {
                Thread.Sleep(600);   // after the child's exit
                second.SendReply(VhostUserRequest.GetFeatures, new byte[8]);
            });
            Assert.Equal(new byte[8], frontend.Receive(VhostUserRequest.GetFeatures));
            Assert.True(child.HasExited, "the child did not exit during the wait");
            Assert.True(reply.Wait(10_000));
        }
    }

    [Fact]
    public void WaitForClose_ChildOfTheWaitingThreadExits_StillSeesTheLaterClose()
    {
        (VhostUserChannel first, VhostUserChannel second) = VhostUserChannel.CreatePair();
        using var frontend = new TestFrontend(first);
        using Process child = StartChild();
        Task close = Task.Run(() =>
        {
            Thread.Sleep(600);   // after the child's exit
            second.Dispose();
        });
        Assert.True(frontend.WaitForClose(10_000));
        Assert.True(child.HasExited, "the child did not exit during the wait");
        Assert.True(close.Wait(10_000));
    }

    /// <summary>A child of this thread that exits after 100 ms, while the test waits.</summary>
    private static Process StartChild() => Process.Start(new ProcessStartInfo("sleep", "0.1") { UseShellExecute = false })!;
}
