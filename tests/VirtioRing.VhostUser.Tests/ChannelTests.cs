using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using VirtioRing.Linux;
using VirtioRing.VhostUser.Backend;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Tests.Infrastructure;
using VirtioRing.VhostUser.Transport;
using Xunit;

namespace VirtioRing.VhostUser.Tests;

[Collection(SerialCollection.Name)]
public sealed class ChannelTests
{
    [Fact]
    public void SendReceive_MessageWithTwoEventFds_FdsArriveAndUntakenAreClosed()
    {
        DeferredRelease.Drain();
        int before = FdCount.Current();
        (VhostUserChannel a, VhostUserChannel b) = VhostUserChannel.CreatePair();
        using (a)
        using (b)
        using (var e1 = new EventFd())
        using (var e2 = new EventFd())
        {
            byte[] payload = new byte[8];
            VhostUserCodec.WriteU64(payload, 0x1234);
            a.Send(new VhostUserHeader(VhostUserRequest.SetVringKick, VhostUserHeaderFlags.Version1, 8), payload, [e1.Handle, e2.Handle]);
            Assert.True(b.TryReceive(out VhostUserMessage m));
            using (m)
            {
                Assert.Equal(VhostUserRequest.SetVringKick, m.Header.Request);
                Assert.Equal(0x1234UL, VhostUserCodec.ReadU64(m.Payload));
                Assert.Equal(2, m.FdCount);
                using SafeFileDescriptor taken = m.TakeFd(0);
                using EventFd received = EventFd.FromHandle(SafeFileDescriptor.Duplicate(taken));
                received.Notify();
                Assert.True(e1.TryConsume(out ulong v));   // the same eventfd
                Assert.Equal(1UL, v);
                Assert.Throws<InvalidOperationException>(() => m.TakeFd(0));
            }
        }

        FdCount.AssertNoneLeaked(before);
    }

    [Fact]
    public void TryReceive_PeerClosedBetweenMessages_False()
    {
        (VhostUserChannel a, VhostUserChannel b) = VhostUserChannel.CreatePair();
        using (b)
        {
            a.Dispose();
            Assert.False(b.TryReceive(out _));
        }
    }

    [Theory]
    [InlineData("0100000001", VhostUserProtocolError.Truncated)]                       // inside the header
    [InlineData("010000000100000008000000AABB", VhostUserProtocolError.Truncated)]     // inside the payload
    [InlineData("010000000000000000000000", VhostUserProtocolError.BadVersion)]
    [InlineData("0200000001000000FFFFFFFF", VhostUserProtocolError.PayloadTooLarge)]   // never allocated
    public void TryReceive_BadFraming_TypedErrorAndNoFdLeak(string hex, VhostUserProtocolError error)
    {
        DeferredRelease.Drain();
        int before = FdCount.Current();
        (VhostUserChannel a, VhostUserChannel b) = VhostUserChannel.CreatePair();
        using (b)
        using (var e = new EventFd())
        {
            using (a)
            {
                RawSocket.Send(a.Handle, Convert.FromHexString(hex), [e.Handle]);
            }

            VhostUserProtocolException x = Assert.Throws<VhostUserProtocolException>(() => b.TryReceive(out _));
            Assert.Equal(error, x.Error);
        }

        FdCount.AssertNoneLeaked(before);
    }

    [Fact]
    public void TryReceive_MoreThanEightFds_ControlTruncatedAndAllClosed()
    {
        DeferredRelease.Drain();
        int before = FdCount.Current();
        (VhostUserChannel a, VhostUserChannel b) = VhostUserChannel.CreatePair();
        var fds = new EventFd[12];
        for (int i = 0; i < fds.Length; i++)
        {
            fds[i] = new EventFd();
        }

        using (a)
        using (b)
        {
            var handles = new SafeHandle[fds.Length];
            for (int i = 0; i < fds.Length; i++)
            {
                handles[i] = fds[i].Handle;
            }

            RawSocket.Send(a.Handle, Convert.FromHexString("030000000100000000000000"), handles);
            VhostUserProtocolException x = Assert.Throws<VhostUserProtocolException>(() => b.TryReceive(out _));
            Assert.Equal(VhostUserProtocolError.ControlTruncated, x.Error);
        }

        foreach (EventFd e in fds)
        {
            e.Dispose();
        }

        FdCount.AssertNoneLeaked(before);
    }

    [Fact]
    public void Shutdown_FromAnotherThread_WakesBlockedReceive()
    {
        (VhostUserChannel a, VhostUserChannel b) = VhostUserChannel.CreatePair();
        using (a)
        using (b)
        {
            var receive = Task.Run(() => b.TryReceive(out _));
            Thread.Sleep(50);
            b.Shutdown();
            Assert.True(receive.Wait(5000));
            Assert.False(receive.Result);
        }
    }

    [Fact]
    public void ListenerAndConnector_ConnectAfterListenerAppears_ExchangeMessage()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vu-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Task<VhostUserChannel> connect = Task.Run(() => VhostUserConnector.ConnectWithRetry(path, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(50), cts.Token));
        Thread.Sleep(100);   // the client retries ENOENT meanwhile
        using (var listener = new VhostUserListener(path))
        {
            using VhostUserChannel server = listener.Accept(cts.Token);
            Assert.True(connect.Wait(10_000));
            using VhostUserChannel client = connect.Result;
            client.Send(new VhostUserHeader(VhostUserRequest.GetFeatures, VhostUserHeaderFlags.Version1, 0), default);
            Assert.True(server.TryReceive(out VhostUserMessage m));
            m.Dispose();
            Assert.Equal(VhostUserRequest.GetFeatures, m.Header.Request);
        }

        Assert.False(File.Exists(path));
    }

    /// <summary>
    /// A child process's exit interrupts the listener's <c>poll</c> on the thread that started it (SIGCHLD goes to that
    /// thread): the wait goes on, and the front-end that connects later is accepted (no "poll failed" ending the serving).
    /// </summary>
    [Fact]
    public void Accept_ChildOfTheAcceptingThreadExitsWhileWaiting_AcceptsTheLaterConnection()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vu-intr-{Guid.NewGuid():N}.sock");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using (var listener = new VhostUserListener(path))
        {
            using Process child = Process.Start(new ProcessStartInfo("sleep", "0.1") { UseShellExecute = false })!;
            Task<VhostUserChannel> connect = Task.Run(() =>
            {
                Thread.Sleep(600);   // after the child's exit
                return VhostUserConnector.Connect(path);
            });
            using VhostUserChannel server = listener.Accept(cts.Token);
            Assert.True(child.HasExited, "the child did not exit during the wait");
            Assert.True(connect.Wait(10_000));
            connect.Result.Dispose();
        }

        Assert.False(File.Exists(path));
    }

    [Fact]
    public void RunServer_TwoFrontendsOneAfterTheOther_EachServed()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vu-srv-{Guid.NewGuid():N}.sock");
        using var harness = new BackendHarness();
        using var cts = new CancellationTokenSource();
        var server = Task.Factory.StartNew(() => harness.Backend.RunServer(path, cts.Token), TaskCreationOptions.LongRunning);
        for (int i = 0; i < 2; i++)
        {
            using var frontend = new TestFrontend(VhostUserConnector.ConnectWithRetry(path, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(50), cts.Token));
            Assert.NotEqual(0UL, frontend.GetU64(VhostUserRequest.GetFeatures) & VhostUserNetBackend.ProtocolFeaturesBit);
        }

        cts.Cancel();
        Assert.True(server.Wait(10_000));
    }

    [Fact]
    public void RunClient_FrontendGoesAwayAndComesBack_Reconnects()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vu-cli-{Guid.NewGuid():N}.sock");
        using var harness = new BackendHarness();
        using var cts = new CancellationTokenSource();
        var client = Task.Factory.StartNew(() => harness.Backend.RunClient(path, TimeSpan.FromMilliseconds(50), cts.Token), TaskCreationOptions.LongRunning);
        for (int i = 0; i < 3; i++)
        {
            using var listener = new VhostUserListener(path);   // the front-end (QEMU server=on) restarts each time
            using var frontend = new TestFrontend(listener.Accept(cts.Token));
            Assert.NotEqual(0UL, frontend.GetU64(VhostUserRequest.GetFeatures) & VhostUserNetBackend.ProtocolFeaturesBit);
        }

        cts.Cancel();
        Assert.True(client.Wait(10_000));
    }
}
