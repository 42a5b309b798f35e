using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace VirtioRing.Benchmarks.Linux;

/// <summary>
/// The network namespace the runner (<c>benchmarks/linux/tap-vs-dpdk.sh</c>) creates for the TAP and packet-socket
/// benchmarks and deletes afterwards. The benchmark thread enters it (<c>setns</c>) before it creates anything, so
/// every interface these benchmarks make is born inside it, and the threads and processes it starts afterwards
/// inherit it; the rest of the process (and BenchmarkDotNet's host, which restores and builds over the network)
/// stays where it was. The benchmarks refuse to run unless <c>VRB_NETNS</c> names a <c>vrb-…</c> namespace that
/// exists, so a plain <c>--filter '*'</c> run never creates a TAP on the machine's real network.
/// </summary>
/// <remarks>
/// Environment (set by the script): <c>VRB_NETNS</c> the namespace; <c>VRB_CPU_MAIN</c> / <c>VRB_CPU_OTHER</c> the
/// two CPUs (the benchmark thread, and the second queue's thread or the frame generator); <c>VRB_GEN</c> the
/// generator binary (<c>vrb-gen</c>); <c>VRB_PIDDIR</c> where each started generator's PID is written so the
/// script can end it even if this process dies; <c>VRB_SIZES</c> / <c>VRB_QUEUES</c> the parameter values.
/// </remarks>
internal static partial class BenchNamespace
{
    private const string Libc = "libc.so.6";
    private const int CLONE_NEWNET = 0x40000000;

    [ThreadStatic]
    private static string? t_entered;

    /// <summary>Gets the namespace name from <c>VRB_NETNS</c>, or null.</summary>
    public static string? Name => Environment.GetEnvironmentVariable("VRB_NETNS");

    /// <summary>Gets the CPU of the benchmark thread (DPDK's forwarding lcore uses the same one).</summary>
    public static int MainCpu => CpuFromEnvironment("VRB_CPU_MAIN", 1);

    /// <summary>Gets the other CPU (second queue's thread, or the generator).</summary>
    public static int OtherCpu => CpuFromEnvironment("VRB_CPU_OTHER", 0);

    /// <summary>Gets the frame lengths to run (<c>VRB_SIZES</c>, comma-separated; default 64, 1500, 65536).</summary>
    public static IEnumerable<int> FrameLengths => ListFromEnvironment("VRB_SIZES", [64, 1500, 65536]);

    /// <summary>Gets the queue counts to run (<c>VRB_QUEUES</c>, comma-separated; default 1, 2).</summary>
    public static IEnumerable<int> QueueCounts => ListFromEnvironment("VRB_QUEUES", [1, 2]);

    /// <summary>Gets whether the Linux benchmarks are offered: <c>VRB_NETNS</c> is set (the script is driving them).</summary>
    public static bool IsRequested => !string.IsNullOrEmpty(Name);

    /// <summary>
    /// Moves the calling thread into the <c>vrb-…</c> namespace named by <c>VRB_NETNS</c> (once per thread) and checks
    /// it is there; throws when the variable is missing or the namespace does not exist.
    /// </summary>
    /// <exception cref="InvalidOperationException">No benchmark namespace.</exception>
    public static void Require()
    {
        string? name = Name;
        if (name is null || !name.StartsWith("vrb-", StringComparison.Ordinal) || name.Contains('/', StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                "The Linux TAP/packet benchmarks run only inside the namespace benchmarks/linux/tap-vs-dpdk.sh creates (VRB_NETNS=vrb-...).");
        }

        if (t_entered == name)
        {
            return;
        }

        using (SafeFileHandle ns = File.OpenHandle("/run/netns/" + name))
        {
            if (setns((int)ns.DangerousGetHandle(), CLONE_NEWNET) != 0)
            {
                throw new InvalidOperationException($"setns({name}) failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }

        // A child process inherits the forking thread's namespace: ip answers with the name only if we are in it.
        string here = Run("ip", "netns", "identify").Trim();
        if (here != name)
        {
            throw new InvalidOperationException($"after setns this thread is in namespace \"{here}\", not {name}; refusing to create interfaces.");
        }

        t_entered = name;
    }

    /// <summary>Runs <c>ip</c> with the arguments (in this process's namespace) and throws when it fails.</summary>
    /// <param name="args">The arguments.</param>
    public static void Ip(params string[] args)
    {
        Require();
        string[] all = new string[args.Length + 2];
        all[0] = "-n";
        all[1] = Name!;
        args.CopyTo(all, 2);
        Run("ip", all);
    }

    /// <summary>Reads an interface's kernel counters (<c>ip -n NS -s -j link show</c>).</summary>
    /// <param name="iface">The interface.</param>
    /// <returns>The counters; all -1 when they cannot be read.</returns>
    public static LinkCounters ReadCounters(string iface)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(Run("ip", "-n", Name!, "-s", "-j", "link", "show", "dev", iface));
            JsonElement stats = doc.RootElement[0].GetProperty("stats64");
            JsonElement rx = stats.GetProperty("rx");
            JsonElement tx = stats.GetProperty("tx");
            return new LinkCounters(
                rx.GetProperty("packets").GetInt64(), rx.GetProperty("bytes").GetInt64(), rx.GetProperty("dropped").GetInt64(),
                tx.GetProperty("packets").GetInt64(), tx.GetProperty("bytes").GetInt64(), tx.GetProperty("dropped").GetInt64());
        }
        catch (Exception e) when (e is InvalidOperationException or JsonException or KeyNotFoundException or IndexOutOfRangeException)
        {
            return new LinkCounters(-1, -1, -1, -1, -1, -1);
        }
    }

    /// <summary>Pins the calling thread to one CPU (<c>sched_setaffinity</c> on the thread itself).</summary>
    /// <param name="cpu">The CPU number (0..63).</param>
    /// <exception cref="InvalidOperationException">The call failed.</exception>
    public static unsafe void PinCurrentThread(int cpu)
    {
        ulong mask = 1UL << cpu;
        if (sched_setaffinity(0, sizeof(ulong), &mask) != 0)
        {
            throw new InvalidOperationException($"sched_setaffinity(cpu {cpu}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Sends a signal to a process this benchmark started.</summary>
    /// <param name="pid">The process.</param>
    /// <param name="signal">The signal number.</param>
    /// <returns>Whether the call succeeded.</returns>
    public static bool Signal(int pid, int signal) => kill(pid, signal) == 0;

    /// <summary>Runs a command and returns its standard output; throws with its standard error when it fails.</summary>
    /// <param name="file">The program.</param>
    /// <param name="args">The arguments.</param>
    /// <returns>Standard output.</returns>
    public static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(30_000))
        {
            p.Kill();
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} did not finish in 30 s");
        }

        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {error.Trim()}");
        }

        return output;
    }

    private static int[] ListFromEnvironment(string variable, int[] fallback)
    {
        string? text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        var values = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            values.Add(int.Parse(part, NumberStyles.None, CultureInfo.InvariantCulture));
        }

        return values.ToArray();
    }

    private static int CpuFromEnvironment(string variable, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.None, CultureInfo.InvariantCulture, out int cpu) && cpu is >= 0 and < 64
            ? cpu
            : fallback;

    [LibraryImport(Libc, SetLastError = true)]
    private static unsafe partial int sched_setaffinity(int pid, nuint cpusetsize, ulong* mask);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int setns(int fd, int nstype);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
