using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Threading;
using Xunit;

namespace VirtioRing.Linux.Tests.Infrastructure;

/// <summary>
/// A network namespace a test creates for itself (<c>ip netns add vr-…</c>) and deletes when disposed,
/// with every link inside it. Tests put a TAP or a veth pair in it, give addresses there, and open sockets
/// there (<see cref="Enter{T}"/>); nothing they send can leave it. The root namespace is never changed.
/// </summary>
public sealed class NetNamespace : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private int _disposed;

    private NetNamespace(string name)
    {
        Name = name;
    }

    /// <summary>Gets the namespace name (<c>vr-</c> and 8 random hex digits).</summary>
    public string Name { get; }

    /// <summary>Gets the path of the namespace's bind mount (what <c>setns</c> opens).</summary>
    public string Path => "/var/run/netns/" + Name;

    /// <summary>Creates a namespace with its loopback up.</summary>
    public static NetNamespace Create()
    {
        string name = "vr-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        Tool.Run("ip", "netns", "add", name);
        var ns = new NetNamespace(name);
        try
        {
            ns.Ip("link", "set", "lo", "up");
        }
        catch
        {
            ns.Dispose();
            throw;
        }

        return ns;
    }

    /// <summary>Whether a namespace of this name exists (cleanup checks).</summary>
    public static bool Exists(string name) => File.Exists("/var/run/netns/" + name);

    /// <summary>Runs <c>ip -n NAME args…</c> and returns its standard output; throws with its error output when it fails.</summary>
    public string Ip(params string[] args)
    {
        string[] all = new string[args.Length + 2];
        all[0] = "-n";
        all[1] = Name;
        Array.Copy(args, 0, all, 2, args.Length);
        return Tool.Run("ip", all);
    }

    /// <summary>Runs a command inside the namespace (<c>ip netns exec</c>) and returns its standard output.</summary>
    public string Exec(params string[] command)
    {
        string[] all = new string[command.Length + 3];
        all[0] = "netns";
        all[1] = "exec";
        all[2] = Name;
        Array.Copy(command, 0, all, 3, command.Length);
        return Tool.Run("ip", all);
    }

    /// <summary>
    /// Moves a link of the root namespace (a TAP this process created, one end of a veth) into this
    /// namespace. Open descriptors on a TAP keep working after the move.
    /// </summary>
    public void MoveLinkIn(string link) => Tool.Run("ip", "link", "set", "dev", link, "netns", Name);

    /// <summary>
    /// Runs <paramref name="action"/> on a new thread that first joins this namespace (<c>setns</c>), so
    /// sockets it opens live here (and stay here after the thread ends). The calling thread is not moved.
    /// </summary>
    public T Enter<T>(Func<T> action)
    {
        T result = default!;
        Exception? failure = null;
        var t = new Thread(() =>
        {
            try
            {
                using Microsoft.Win32.SafeHandles.SafeFileHandle f = File.OpenHandle(Path);
                if (SetNs((int)f.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException("setns(" + Path + ") failed: errno " + Marshal.GetLastPInvokeError());
                }

                result = action();
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        {
            IsBackground = true,
            Name = "in netns " + Name,
        };
        t.Start();
        t.Join();
        if (failure is not null)
        {
            throw new InvalidOperationException("The action inside namespace " + Name + " failed: " + failure.Message, failure);
        }

        return result;
    }

    /// <summary>Runs <paramref name="action"/> inside the namespace (see <see cref="Enter{T}"/>).</summary>
    public void Enter(Action action) => Enter(() =>
    {
        action();
        return 0;
    });

    /// <summary>Deletes the namespace and with it every link inside (a TAP moved here disappears; a veth pair goes with either end).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Tool.TryRun("ip", "netns", "del", Name);
    }

    [DllImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static extern int SetNs(int fd, int nstype);
}

/// <summary>Runs a command-line tool with a bounded wait.</summary>
public static class Tool
{
    /// <summary>Runs <paramref name="file"/> and returns its standard output; throws with its exit code and error output when it fails or runs over 20 s.</summary>
    public static string Run(string file, params string[] args)
    {
        (int code, string output, string error) = TryRun(file, args);
        if (code != 0)
        {
            throw new InvalidOperationException(file + " " + string.Join(' ', args) + " failed (exit " + code + "): " + error.Trim());
        }

        return output;
    }

    /// <summary>Runs <paramref name="file"/>; returns its exit code (-1 when it ran over 20 s and was ended) and its outputs.</summary>
    public static (int Code, string Output, string Error) TryRun(string file, params string[] args)
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

        using Process p = Process.Start(psi)!;
        using StreamReader errorPipe = p.StandardError;   // closed here, not when a collection runs (fd-counting tests)
        using StreamReader outputPipe = p.StandardOutput;
        var stderr = errorPipe.ReadToEndAsync();
        string stdout = outputPipe.ReadToEnd();
        if (!p.WaitForExit(20_000))
        {
            p.Kill(entireProcessTree: true);   // only the process this call started
            p.WaitForExit();
            return (-1, stdout, stderr.Result);
        }

        return (p.ExitCode, stdout, stderr.Result);
    }
}

/// <summary>
/// A fact that needs root, <c>/dev/net/tun</c> and <c>ip</c> (network namespaces): skipped with the reason
/// where one is missing — except when the environment variable <c>CI</c> is set, where it runs (and fails,
/// naming what is missing).
/// </summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        string? missing = Requirements.MissingForNamespaces();
        if (missing is not null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            Skip = missing;
        }
    }
}

/// <summary>What namespace tests need, and what is missing.</summary>
public static class Requirements
{
    /// <summary>Gets null when the tests can run, else one line saying what is missing.</summary>
    public static string? MissingForNamespaces()
    {
        if (Environment.UserName != "root" && GetEUid() != 0)
        {
            return "needs root (network namespaces, TAP devices, packet sockets); run the tests as root";
        }

        if (!File.Exists("/dev/net/tun"))
        {
            return "needs /dev/net/tun (the tun module)";
        }

        if (!File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/bin/ip") && !File.Exists("/bin/ip"))
        {
            return "needs `ip` (iproute2)";
        }

        return null;
    }

    /// <summary>Throws with the reason when the requirements are missing (for CI, where the tests must run).</summary>
    public static void Require()
    {
        string? missing = MissingForNamespaces();
        Assert.True(missing is null, missing);
    }

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEUid();
}
