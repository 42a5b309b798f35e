using System;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;
using VirtioRing.VhostUser.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Daemon;

/// <summary>The built sample as a process: it stops cleanly on a signal.</summary>
[Collection(SerialCollection.Name)]
public sealed class DaemonProcessTests
{
    [Theory]
    [InlineData(15, "SIGTERM")]
    [InlineData(2, "SIGINT")]
    public void Signal_WhileServing_ExitsZeroWithSummaryAndRemovesSocket(int signal, string name)
    {
        string dir = Directory.CreateTempSubdirectory("vr-daemon-proc-").FullName;
        string socket = Path.Combine(dir, "a.sock");
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "VhostUserNet"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { "--socket", socket, "--stats-interval", "1", "--duration", "60" })
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        Task<string> output = p.StandardOutput.ReadToEndAsync();
        Task<string> error = p.StandardError.ReadToEndAsync();
        try
        {
            VhostUserDaemonTests.WaitFor(() => File.Exists(socket) || p.HasExited, "the daemon did not listen");
            Assert.False(p.HasExited, "the daemon exited early");
            Assert.Equal(0, Tmds.Linux.LibC.kill(p.Id, signal));
            Assert.True(p.WaitForExit(15_000), $"the daemon did not stop after {name}");
            p.WaitForExit();
            string stdout = output.Result;
            Assert.Equal(0, p.ExitCode);
            Assert.Equal(string.Empty, error.Result);
            Assert.Contains($"{name}: stopping", stdout, StringComparison.Ordinal);
            Assert.Contains("stopped", stdout, StringComparison.Ordinal);
            Assert.Contains("vu0 down 1q tx 0 fr 0 B, rx 0 fr 0 B, drops tx 0 rx 0", stdout, StringComparison.Ordinal);
            Assert.False(File.Exists(socket), "the socket file was not removed");
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill();
                p.WaitForExit();
            }

            Directory.Delete(dir, recursive: true);
        }
    }
}
