using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using System.Threading;
using Spectre.Console;
using VirtioRing.Linux.Tap;
using VirtioRing.Net;
using VirtioRing.Net.Engine;
using VirtioRing.Net.InProcess;

namespace TapBridge;

/// <summary>What the command line asked for.</summary>
internal sealed record BridgeOptions(int Pairs, int Count, int IntervalMs, int Size, bool Packed);

/// <summary>Sets the bridge up, runs the pings, reports, and takes everything down again.</summary>
internal static partial class Bridge
{
    private const string KernelAddress = "10.77.0.1";
    private const string GuestAddress = "10.77.0.2";
    private const uint GuestIp = (10u << 24) | (77u << 16) | 2u;
    private static readonly MacAddress GuestMac = MacAddress.Parse("52:54:00:77:00:02");

    public static int Run(BridgeOptions options)
    {
        string? missing = Missing();
        if (missing is not null)
        {
            Console.Error.WriteLine("TapBridge cannot run here: " + missing + ".");
            return 2;
        }

        string suffix = Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        string ns = "vrtb-" + suffix;
        string tap = "vrtb" + suffix;
        using var stop = new CancellationTokenSource();
        var pings = new List<Process>();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;   // unwind through the finally blocks below: the namespace goes with them
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });

        Run("ip", "netns", "add", ns);
        try
        {
            using TapBackend backend = TapBackend.Create(new TapOptions { Name = tap, Queues = options.Pairs, MultiQueue = options.Pairs > 1 });
            Run("ip", "link", "set", "dev", tap, "netns", ns);
            Run("ip", "-n", ns, "link", "set", "lo", "up");
            Run("ip", "-n", ns, "addr", "add", KernelAddress + "/24", "dev", tap);
            Run("ip", "-n", ns, "link", "set", tap, "up");

            using InProcessGuest guest = InProcessGuest.Create(backend, new InProcessGuestOptions
            {
                Mac = GuestMac,
                QueuePairs = options.Pairs,
                Packed = options.Packed,
                Name = "tapbridge",
            });
            if (options.Pairs > 1 && guest.Driver.SetQueuePairs(options.Pairs) != VirtioRing.Net.Control.ControlAck.Ok)
            {
                Console.Error.WriteLine("TapBridge: the device refused VQ_PAIRS_SET " + options.Pairs + ".");
                return 1;
            }

            Exception? fault = null;
            guest.Device.BackendFaulted += (_, e) => fault = e.Error;

            var responders = new Responder[options.Pairs];
            var threads = new Thread[options.Pairs];
            using var responding = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
            for (int p = 0; p < options.Pairs; p++)
            {
                Responder r = responders[p] = new Responder(guest, p, GuestMac, GuestIp);
                threads[p] = new Thread(() => r.Run(responding.Token)) { IsBackground = true, Name = "responder " + p };
                threads[p].Start();
            }

            var results = new PingResult[options.Pairs];
            AnsiConsole.Status().Start("pinging " + GuestAddress + " from namespace " + ns + " …", ctx =>
            {
                for (int p = 0; p < options.Pairs; p++)
                {
                    pings.Add(StartPing(ns, options));
                }

                while (!stop.IsCancellationRequested && pings.Exists(x => !x.HasExited))
                {
                    ctx.Status(string.Create(CultureInfo.InvariantCulture,
                        $"pinging {GuestAddress} from namespace {ns}: {Sum(responders, r => r.EchoAnswered)} echo replies, {Sum(responders, r => r.ArpAnswered)} ARP replies"));
                    Thread.Sleep(200);
                }

                for (int p = 0; p < pings.Count; p++)
                {
                    Process x = pings[p];
                    if (!x.HasExited)
                    {
                        x.Kill();   // Ctrl-C: only the ping this run started
                    }

                    x.WaitForExit();
                    results[p] = PingResult.Parse(x.StandardOutput.ReadToEnd());
                }
            });

            responding.Cancel();
            foreach (Thread t in threads)
            {
                t.Join();
            }

            Report(options, ns, tap, guest.Device, responders, results, fault);
            long sent = 0, answered = 0;
            foreach (PingResult r in results)
            {
                sent += r.Transmitted;
                answered += r.Received;
            }

            return !stop.IsCancellationRequested && sent > 0 && answered == sent && fault is null ? 0 : 1;
        }
        finally
        {
            foreach (Process x in pings)
            {
                x.Dispose();
            }

            Run("ip", "netns", "del", ns);   // the TAP inside goes with it
            Console.CancelKeyPress -= onCancel;
            AnsiConsole.MarkupLine("[grey]namespace " + ns + " removed[/]");
        }
    }

    private static void Report(BridgeOptions options, string ns, string tap, NetDevice device, Responder[] responders, PingResult[] results, Exception? fault)
    {
        var table = new Table().Title("TapBridge: guest " + GuestAddress + " ↔ TAP " + tap + " (" + KernelAddress + ") in " + ns);
        table.AddColumns("pair", "rx frames", "rx bytes", "tx frames", "tx bytes", "drops", "arp", "echo", "ping", "rtt ms");
        for (int p = 0; p < options.Pairs; p++)
        {
            NetQueueCounters rx = device.GetCounters(2 * p);
            NetQueueCounters tx = device.GetCounters(2 * p + 1);
            PingResult r = results[p];
            table.AddRow(
                p.ToString(CultureInfo.InvariantCulture),
                rx.Packets.ToString("N0", CultureInfo.InvariantCulture),
                rx.Bytes.ToString("N0", CultureInfo.InvariantCulture),
                tx.Packets.ToString("N0", CultureInfo.InvariantCulture),
                tx.Bytes.ToString("N0", CultureInfo.InvariantCulture),
                (rx.TotalDrops + tx.TotalDrops).ToString("N0", CultureInfo.InvariantCulture),
                responders[p].ArpAnswered.ToString("N0", CultureInfo.InvariantCulture),
                responders[p].EchoAnswered.ToString("N0", CultureInfo.InvariantCulture),
                r.Transmitted + "/" + r.Received,
                r.AverageRttMs?.ToString("0.000", CultureInfo.InvariantCulture) ?? "-");
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("rx/tx: the guest's receive and transmit queues of each pair; arp/echo: requests the guest answered; ping: sent/received by the kernel's ping in the namespace.");
        AnsiConsole.MarkupLine("Receive queues: frames arrive on the TAP queue the kernel steers each flow to, and go straight into the guest's buffers (readv).");
        if (fault is not null)
        {
            AnsiConsole.MarkupLine("[red]backend fault:[/] " + Markup.Escape(fault.Message));
        }
    }

    private static Process StartPing(string ns, BridgeOptions options)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[]
        {
            "netns", "exec", ns, "ping", "-n", "-q", "-c", options.Count.ToString(CultureInfo.InvariantCulture),
            "-i", (options.IntervalMs / 1000.0).ToString("0.###", CultureInfo.InvariantCulture),
            "-s", options.Size.ToString(CultureInfo.InvariantCulture), "-W", "2", GuestAddress,
        })
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi) ?? throw new InvalidOperationException("could not start ping");
    }

    private static long Sum(Responder[] responders, Func<Responder, long> value)
    {
        long s = 0;
        foreach (Responder r in responders)
        {
            s += value(r);
        }

        return s;
    }

    private static string? Missing()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            return "it needs root (network namespaces and TAP devices); run it with sudo";
        }

        if (!File.Exists("/dev/net/tun"))
        {
            return "/dev/net/tun is missing (load the tun module)";
        }

        foreach (string tool in new[] { "ip", "ping" })
        {
            if (!OnPath(tool))
            {
                return "`" + tool + "` is not installed (iproute2, iputils-ping)";
            }
        }

        return null;
    }

    private static bool OnPath(string tool)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
        {
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, tool)))
            {
                return true;
            }
        }

        return false;
    }

    private static void Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi) ?? throw new InvalidOperationException("could not start " + file);
        string error = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException(file + " " + string.Join(' ', args) + " failed: " + error.Trim());
        }
    }

    /// <summary>The summary lines of <c>ping -q</c>.</summary>
    private readonly record struct PingResult(long Transmitted, long Received, double? AverageRttMs)
    {
        public static PingResult Parse(string output)
        {
            Match counts = Counts().Match(output);
            Match rtt = Rtt().Match(output);
            return new PingResult(
                counts.Success ? long.Parse(counts.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
                counts.Success ? long.Parse(counts.Groups[2].Value, CultureInfo.InvariantCulture) : 0,
                rtt.Success ? double.Parse(rtt.Groups[1].Value, CultureInfo.InvariantCulture) : null);
        }
    }

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) (?:packets )?received")]
    private static partial Regex Counts();

    [GeneratedRegex(@"= [\d.]+/([\d.]+)/")]
    private static partial Regex Rtt();
}
