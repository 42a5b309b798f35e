using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;

namespace VirtioRing.Benchmarks.Linux;

/// <summary>
/// The network namespace the runner (<c>benchmarks/linux/tap-vs-dpdk.sh</c>) creates for the TAP and packet-socket
/// benchmarks and deletes afterwards. The benchmarks only ever touch interfaces they create inside it: they refuse
/// to run unless <c>VRB_NETNS</c> names a <c>vrb-…</c> namespace and this process is inside it
/// (<c>ip netns identify</c> answers that name), so a plain <c>--filter '*'</c> run outside the script never
/// creates a TAP on the machine's real network.
/// </summary>
/// <remarks>
/// Environment (set by the script): <c>VRB_NETNS</c> the namespace; <c>VRB_CPU_MAIN</c> / <c>VRB_CPU_OTHER</c> the
/// two CPUs (the benchmark thread, and the second queue's thread or the frame generator); <c>VRB_GEN</c> the
/// generator binary (<c>vrb-gen</c>); <c>VRB_PIDDIR</c> where each started generator's PID is written so the
/// script can end it even if this process dies.
/// </remarks>
internal static partial class BenchNamespace
{
    private const string Libc = "libc.so.6";
    private static string? s_checked;

    /// <summary>Gets the namespace name from <c>VRB_NETNS</c>, or null.</summary>
    public static string? Name => Environment.GetEnvironmentVariable("VRB_NETNS");

    /// <summary>Gets the CPU of the benchmark thread (DPDK's forwarding lcore uses the same one).</summary>
    public static int MainCpu => CpuFromEnvironment("VRB_CPU_MAIN", 1);

    /// <summary>Gets the other CPU (second queue's thread, or the generator).</summary>
    public static int OtherCpu => CpuFromEnvironment("VRB_CPU_OTHER", 0);

    /// <summary>Gets whether the Linux benchmarks may run: <c>VRB_NETNS</c> is set (the script is driving them).</summary>
    public static bool IsRequested => !string.IsNullOrEmpty(Name);

    /// <summary>Throws unless this process runs inside the <c>vrb-…</c> namespace named by <c>VRB_NETNS</c>.</summary>
    /// <exception cref="InvalidOperationException">Not inside the script's namespace.</exception>
    public static void Require()
    {
        string? name = Name;
        if (name is null || !name.StartsWith("vrb-", StringComparison.Ordinal) || name.Contains('/', StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                "The Linux TAP/packet benchmarks run only inside the namespace benchmarks/linux/tap-vs-dpdk.sh creates (VRB_NETNS=vrb-...).");
        }

        if (s_checked == name)
        {
            return;
        }

        string here = Run("ip", "netns", "identify").Trim();
        if (here != name)
        {
            throw new InvalidOperationException($"VRB_NETNS is {name} but this process is in namespace \"{here}\"; refusing to create interfaces.");
        }

        s_checked = name;
    }

    /// <summary>Runs <c>ip</c> with the arguments (in this process's namespace) and throws when it fails.</summary>
    /// <param name="args">The arguments.</param>
    public static void Ip(params string[] args)
    {
        Require();
        Run("ip", args);
    }

    /// <summary>Reads an interface counter from <c>/sys/class/net/IFACE/statistics/NAME</c> (this namespace's sysfs under <c>ip netns exec</c>).</summary>
    /// <param name="iface">The interface.</param>
    /// <param name="counter">The counter (<c>rx_packets</c>, <c>tx_dropped</c>, …).</param>
    /// <returns>The value, or -1 when it cannot be read.</returns>
    public static long ReadCounter(string iface, string counter)
    {
        try
        {
            return long.Parse(File.ReadAllText($"/sys/class/net/{iface}/statistics/{counter}").Trim(), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return -1;
        }
        catch (UnauthorizedAccessException)
        {
            return -1;
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

    private static int CpuFromEnvironment(string variable, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.None, CultureInfo.InvariantCulture, out int cpu) && cpu is >= 0 and < 64
            ? cpu
            : fallback;

    [LibraryImport(Libc, SetLastError = true)]
    private static unsafe partial int sched_setaffinity(int pid, nuint cpusetsize, ulong* mask);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
