using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using VirtioRing.Net;

namespace VirtioRing.Benchmarks.Linux;

/// <summary>
/// The kernel-side frame source for the receive benchmarks: <c>vrb-gen</c> (benchmarks/linux/vrb-gen.c, built by the
/// runner) sending into an interface of the benchmark namespace through an <c>AF_PACKET</c> socket, pinned to
/// <see cref="BenchNamespace.OtherCpu"/>. Its PID goes to <c>VRB_PIDDIR</c> so the runner can end it (by PID) if this
/// process dies; <see cref="Stop"/> ends it with SIGINT (SIGKILL after 5 s) and returns its summary line.
/// </summary>
internal sealed class FrameGenerator : IDisposable
{
    private const int SigInt = 2;
    private readonly Process _process;
    private readonly string? _pidFile;
    private string? _summary;

    private FrameGenerator(Process process, string? pidFile)
    {
        _process = process;
        _pidFile = pidFile;
    }

    /// <summary>Starts the generator.</summary>
    /// <param name="iface">The interface to send into (the TAP).</param>
    /// <param name="frameLength">64..1514, or 65536 for TCP/IPv4 GSO super-frames.</param>
    /// <param name="destination">The destination MAC (the guest's).</param>
    /// <param name="maxSeconds">The generator's own time limit.</param>
    /// <returns>The running generator.</returns>
    public static FrameGenerator Start(string iface, int frameLength, MacAddress destination, int maxSeconds = 300)
    {
        BenchNamespace.Require();
        string gen = Environment.GetEnvironmentVariable("VRB_GEN") ?? throw new InvalidOperationException("VRB_GEN (the vrb-gen binary) is not set; run benchmarks/linux/tap-vs-dpdk.sh.");
        var psi = new ProcessStartInfo("taskset")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(BenchNamespace.OtherCpu.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(gen);
        psi.ArgumentList.Add(iface);
        psi.ArgumentList.Add(frameLength.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(maxSeconds.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(destination.ToString());
        Process p = Process.Start(psi) ?? throw new InvalidOperationException("could not start vrb-gen");

        // taskset execs the generator: the PID is the generator's.
        string? dir = Environment.GetEnvironmentVariable("VRB_PIDDIR");
        string? pidFile = null;
        if (!string.IsNullOrEmpty(dir) && Directory.Exists(dir))
        {
            pidFile = Path.Combine(dir, "gen-" + p.Id.ToString(CultureInfo.InvariantCulture));
            File.WriteAllText(pidFile, p.Id.ToString(CultureInfo.InvariantCulture));
        }

        return new FrameGenerator(p, pidFile);
    }

    /// <summary>Gets whether the generator is still running.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>Ends the generator (SIGINT, then SIGKILL after 5 s) and returns its summary line.</summary>
    /// <returns>What it printed.</returns>
    public string Stop()
    {
        if (_summary is not null)
        {
            return _summary;
        }

        if (!_process.HasExited)
        {
            BenchNamespace.Signal(_process.Id, SigInt);
            if (!_process.WaitForExit(5000))
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }

        _summary = _process.StandardOutput.ReadToEnd().Trim();
        if (_pidFile is not null)
        {
            File.Delete(_pidFile);
        }

        return _summary;
    }

    /// <summary>Stops the generator.</summary>
    public void Dispose()
    {
        Stop();
        _process.Dispose();
    }
}
