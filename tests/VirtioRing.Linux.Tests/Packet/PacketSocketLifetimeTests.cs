using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using Tmds.Linux;
using VirtioRing.Linux.Packet;
using VirtioRing.Linux.Tests.Infrastructure;
using VirtioRing.Net.Control;
using VirtioRing.Net.Engine;
using Xunit;

namespace VirtioRing.Linux.Tests.Packet;

/// <summary>What a packet-socket backend leaves behind (descriptors, ring mappings, its thread) and how it fails when its interface goes away.</summary>
[Collection(FdCountingCollection.Name)]
public sealed class PacketSocketLifetimeTests
{
    [RootFact]
    public void InterfaceDeletedMidTraffic_EachQueueFaultsOnceWithTheReason_ProcessGoesOnAndNothingLeaks()
    {
        using PacketLab lab = PacketLab.Create();
        WarmUp(lab);
        string[] fds = Fds();
        int maps = SocketMappings();
        PacketSocketBackend backend = lab.Attach(queues: 2);
        var guest = lab.StartGuest(pairs: 2);
        Assert.Equal(ControlAck.Ok, guest.Driver.SetQueuePairs(2));
        var faults = new ConcurrentQueue<NetBackendFaultEventArgs>();
        guest.Device.BackendFaulted += (_, e) => faults.Enqueue(e);
        Thread readiness = backend.ReadinessThread;

        using (Socket sink = lab.OpenUdp(9200))
        {
            for (int i = 0; i < 10; i++)
            {
                lab.Send(i % 2, Udp(i));
            }

            for (int i = 0; i < 10; i++)
            {
                Assert.Equal(1, sink.Receive(new byte[8]));   // traffic flows on both pairs first
            }
        }

        RunWithoutPipes("ip", "-n", lab.Ns.Name, "link", "del", PacketLab.BoundLink);   // takes the peer end with it

        // The guest goes on sending into the void: no exception anywhere, the frames are dropped.
        long deadline = Environment.TickCount64 + 5000;
        int sent = 0;
        while (faults.Count < 2 && Environment.TickCount64 < deadline)
        {
            lab.Send(sent % 2, Udp(sent));
            sent++;
            Thread.Sleep(2);
        }

        Assert.True(faults.Count == 2, $"{faults.Count} backend queue fault(s) raised after the interface was deleted (expected one per queue)");
        Assert.Equal([0, 1], faults.Select(f => f.BackendQueue).Order().ToArray());
        foreach (NetBackendFaultEventArgs f in faults)
        {
            LinuxException e = Assert.IsType<LinuxException>(f.Error);
            Assert.Contains(PacketLab.BoundLink, e.Message, StringComparison.Ordinal);
            Assert.Contains("deleted", e.Message, StringComparison.Ordinal);
            Assert.Contains(e.Errno, new[] { LibC.ENETDOWN, LibC.ENXIO, LibC.ENODEV });
            Assert.True(backend.GetCounters(f.BackendQueue).IsFaulted);
        }

        for (int i = 0; i < 20; i++)
        {
            lab.Send(i % 2, Udp(i));   // still no exception; the device drops them
        }

        Thread.Sleep(100);
        Assert.Equal(2, faults.Count);   // once per queue, not per frame
        lab.Guest!.Dispose();
        backend.Dispose();
        Assert.True(readiness.Join(5000), "the readiness thread did not end");
        AssertNoNewFds(fds);
        Assert.Equal(maps, SocketMappings());
    }

    [RootFact]
    public void InterfaceDeletedWhileIdle_TheReadinessThreadNoticesAndEachQueueFaultsOnce()
    {
        using PacketLab lab = PacketLab.Create();
        PacketSocketBackend backend = lab.Attach(queues: 2);
        var guest = lab.StartGuest(pairs: 2);
        var faults = new ConcurrentQueue<NetBackendFaultEventArgs>();
        guest.Device.BackendFaulted += (_, e) => faults.Enqueue(e);

        // Nothing is sent after the deletion: only the sockets' error event (EPOLLERR, the socket unbound) tells.
        lab.Ns.Ip("link", "del", PacketLab.BoundLink);
        long deadline = Environment.TickCount64 + 5000;
        while (faults.Count < 2 && Environment.TickCount64 < deadline)
        {
            Thread.Sleep(10);
        }

        Assert.Equal([0, 1], faults.Select(f => f.BackendQueue).Order().ToArray());
        Assert.All(faults, f => Assert.Contains("was deleted", f.Error.Message, StringComparison.Ordinal));
        Assert.True(backend.GetCounters(0).IsFaulted && backend.GetCounters(1).IsFaulted);
    }

    [RootFact]
    public void Dispose_AfterTraffic_ClosesEverySocketUnmapsEveryRingAndEndsTheThread()
    {
        using PacketLab lab = PacketLab.Create();
        WarmUp(lab);
        string[] fds = Fds();
        int maps = SocketMappings();
        for (int round = 0; round < 3; round++)
        {
            PacketSocketBackend backend = lab.Attach(queues: 3);
            Assert.Equal(maps + 3, SocketMappings());
            lab.StartGuest();
            lab.Send(0, TestFrames.ArpRequest(PacketLab.GuestMac, PacketLab.GuestIp, PacketLab.PeerIp));
            Assert.NotNull(lab.WaitForFrame((f, h) => TestFrames.IsArpReply(f, PacketLab.PeerIp, out _)));
            Thread readiness = backend.ReadinessThread;
            lab.Guest!.Dispose();
            backend.Dispose();
            backend.Dispose();   // idempotent
            Assert.True(readiness.Join(5000), "the readiness thread did not end");
            AssertNoNewFds(fds);
            Assert.Equal(maps, SocketMappings());
        }

        // The promiscuous membership went with the sockets.
        Assert.DoesNotContain("PROMISC", lab.Ns.Ip("link", "show", PacketLab.BoundLink), StringComparison.Ordinal);
    }

    /// <summary>Loads what the first backend loads once per process (Tmds.LibC's assembly: two descriptors), so the counts compare like with like.</summary>
    private static void WarmUp(PacketLab lab) => lab.Attach().Dispose();

    /// <summary>This process's descriptors with what each refers to (<c>3-&gt;socket:[123]</c>).</summary>
    private static string[] Fds() => Directory.GetFiles("/proc/self/fd").Select(f =>
    {
        try
        {
            return Path.GetFileName(f) + "->" + new FileInfo(f).LinkTarget;
        }
        catch (IOException)
        {
            return Path.GetFileName(f);   // closed while listing
        }
    }).ToArray();

    private static void AssertNoNewFds(string[] before)
    {
        string[] added = Fds().Except(before).ToArray();
        Assert.True(added.Length == 0 && FdCount.Current() == before.Length, "descriptors left open: " + string.Join(", ", added));
    }

    /// <summary>Runs a tool with its output going where ours goes: no pipes are opened, so none is left behind to count.</summary>
    private static void RunWithoutPipes(string file, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(file) { UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(psi)!;
        Assert.True(p.WaitForExit(20_000), file + " did not finish");
        Assert.Equal(0, p.ExitCode);
    }

    private static byte[] Udp(int i) =>
        TestFrames.Udp(PacketLab.GuestMac, PacketLab.PeerMac, PacketLab.GuestIp, PacketLab.PeerIp, (ushort)(43000 + (i % 2)), 9200, [(byte)i]);

    /// <summary>Counts this process's mappings of sockets (a packet ring shows as <c>socket:[inode]</c>).</summary>
    private static int SocketMappings() => File.ReadLines("/proc/self/maps").Count(l => l.Contains("socket:[", StringComparison.Ordinal));
}
