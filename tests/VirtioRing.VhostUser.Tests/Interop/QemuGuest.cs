using System;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;

namespace VirtioRing.VhostUser.Tests.Interop;

/// <summary>
/// One guest booted by run-guest.sh (which ends QEMU itself after its --timeout). Dispose ends the script and the
/// QEMU it started by their PIDs if they still run, and removes the guest's files.
/// </summary>
public sealed class QemuGuest : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;
    private readonly string _work;

    private QemuGuest(Process process, string work, string name)
    {
        _process = process;
        _work = work;
        Name = name;
        _stdout = process.StandardOutput.ReadToEndAsync();
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public string Name { get; }

    public string ConsolePath => Path.Combine(_work, "console.log");

    /// <summary>
    /// Boots a guest (QEMU listening on the socket when <paramref name="server"/>) that runs <paramref name="script"/> with its
    /// virtio-net device on <paramref name="socket"/>; with <paramref name="qmpSocket"/>, QEMU also listens for QMP there.
    /// </summary>
    public static QemuGuest Start(string name, string socket, string script, string mac, int queues, bool packed, bool mergeable, bool server, int timeoutSeconds, string? qmpSocket = null)
    {
        string work = System.IO.Directory.CreateTempSubdirectory("vr-guest-" + name + "-").FullName;
        string scriptPath = Path.Combine(work, "test.sh");
        File.WriteAllText(scriptPath, script);
        var start = new ProcessStartInfo("bash")
        {
            ArgumentList =
            {
                Path.Combine(GuestImage.ScriptDirectory, "run-guest.sh"),
                "--image", GuestImage.Directory,
                "--socket", socket,
                "--script", scriptPath,
                "--queues", queues.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--packed", packed ? "on" : "off",
                "--mrg", mergeable ? "on" : "off",
                "--mac", mac,
                "--timeout", timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--log", Path.Combine(work, "console.log"),
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (server)
        {
            start.ArgumentList.Add("--server");   // QEMU listens; the daemon connects (its client mode)
        }

        if (qmpSocket is not null)
        {
            start.ArgumentList.Add("--qmp");
            start.ArgumentList.Add(qmpSocket);
        }

        Process p = Process.Start(start) ?? throw new InvalidOperationException("bash did not start");
        return new QemuGuest(p, work, name);
    }

    /// <summary>Waits for the guest's script to end; returns its exit status, or null after <paramref name="timeout"/>.</summary>
    public int? Wait(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            return null;
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Gets the console lines (after the guest ended) that contain one of <paramref name="markers"/>, each prefixed with the guest's name.</summary>
    public string ConsoleLines(params string[] markers)
    {
        var lines = new System.Text.StringBuilder();
        if (File.Exists(ConsolePath))
        {
            foreach (string line in File.ReadAllLines(ConsolePath))
            {
                foreach (string marker in markers)
                {
                    if (line.Contains(marker, StringComparison.Ordinal))
                    {
                        lines.Append(Name).Append(": ").AppendLine(line.TrimEnd());
                        break;
                    }
                }
            }
        }

        return lines.ToString();
    }

    /// <summary>Gets the console and what run-guest.sh printed, for a failure message.</summary>
    public string Diagnostics()
    {
        string console = File.Exists(ConsolePath) ? File.ReadAllText(ConsolePath) : "(no console log)";
        string output = _process.HasExited ? _stdout.Result + _stderr.Result : "(still running)";
        return $"--- {Name} console ---\n{Tail(console, 4000)}\n--- {Name} run-guest.sh ---\n{Tail(output, 2000)}";
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                // By PID: the script and its children (QEMU) — never by name.
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        try
        {
            System.IO.Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string Tail(string s, int n) => s.Length <= n ? s : s.Substring(s.Length - n);
}
