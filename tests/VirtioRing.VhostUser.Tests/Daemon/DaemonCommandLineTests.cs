using System;
using System.CommandLine;
using System.IO;
using System.Linq;
using VhostUserNet;
using VirtioRing.VhostUser.Tests.Infrastructure;
using Xunit;

namespace VirtioRing.VhostUser.Tests.Daemon;

[Collection(SerialCollection.Name)]
public sealed class DaemonCommandLineTests
{
    [Fact]
    public void Help_ListsEveryOptionWithItsDescription()
    {
        (int code, string output, string error) = Invoke("--help");

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        RootCommand root = DaemonCommandLine.Create();
        Assert.Contains(root.Options, o => o.Name == "--interface");
        foreach (Option option in root.Options)
        {
            Assert.Contains(option.Name, output, StringComparison.Ordinal);
            if (option.Description is { Length: > 0 } description)
            {
                Assert.Contains(description.Substring(0, Math.Min(40, description.Length)), output, StringComparison.Ordinal);
            }
        }

        Assert.DoesNotContain("--mem-slots", output, StringComparison.Ordinal);
        Assert.Contains("switch|tap|nic", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--queues 2", "'--socket' is required")]
    [InlineData("--socket a.sock --queues 0", "--queues must be between 1 and 16")]
    [InlineData("--socket a.sock --queues 17", "--queues must be between 1 and 16")]
    [InlineData("--socket a.sock --queues many", "'many'")]
    [InlineData("--socket a.sock --backend bridge", "'bridge' not recognized")]
    [InlineData("--socket a.sock --duration -1", "--duration cannot be negative")]
    [InlineData("--socket a.sock --stats-interval -5", "--stats-interval cannot be negative")]
    [InlineData("--socket a.sock --socket a.sock", "--socket a.sock is given twice")]
    [InlineData("--socket a.sock --backend nic", "one --interface per --socket")]
    [InlineData("--socket a.sock --socket b.sock --backend nic --interface eth0", "one --interface per --socket")]
    [InlineData("--socket a.sock --socket b.sock --backend nic --interface eth0 --interface eth0", "--interface eth0 is given twice")]
    [InlineData("--socket a.sock --backend nic --interface a/b", "is not an interface name")]
    [InlineData("--socket a.sock --interface eth0", "--interface is only used with --backend nic")]
    [InlineData("--socket a.sock --mem-slots", "--mem-slots")]
    [InlineData("--socket a.sock --poll-threads 65", "--poll-threads must be between 0 and 64")]
    [InlineData("--socket a.sock --poll-threads -1", "--poll-threads must be between 0 and 64")]
    [InlineData("--socket a.sock --worker-mode spin", "'spin' not recognized")]
    [InlineData("--socket a.sock --steering rss", "'rss' not recognized")]
    [InlineData("--socket a.sock --poll-threads 1 --worker-mode busy-poll", "--poll-threads replaces them")]
    [InlineData("--socket a.sock --backend tap --steering queue", "--steering is only used with --backend switch")]
    public void Parse_BadValue_OneClearErrorAndNonZeroExit(string args, string expected)
    {
        string[] argv = args.Split(' ');
        ParseResult parse = DaemonCommandLine.Create().Parse(argv);
        Assert.Single(parse.Errors);
        Assert.Contains(expected, parse.Errors[0].Message, StringComparison.Ordinal);

        (int code, string output, string error) = Invoke(argv);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("Usage:", output + error, StringComparison.Ordinal);   // the error, not the whole help
    }

    [Fact]
    public void Run_NicBackendWithoutTheInterface_OneLineErrorAndExitOne()
    {
        string dir = Directory.CreateTempSubdirectory("vr-daemon-cli-").FullName;
        try
        {
            string socket = Path.Combine(dir, "a.sock");
            (int code, string output, string error) = Invoke("--socket", socket, "--backend", "nic", "--interface", "vr-nosuch0", "--duration", "1", "--stats-interval", "0");

            Assert.Equal(1, code);
            Assert.Equal(string.Empty, output);
            string line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("VhostUserNet: vu0: cannot attach to interface vr-nosuch0: if_nametoindex failed: No such device", line, StringComparison.Ordinal);
            Assert.False(File.Exists(socket));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Run_SwitchForOneSecond_PrintsTheSummaryAndRemovesTheSocket()
    {
        string dir = Directory.CreateTempSubdirectory("vr-daemon-cli-").FullName;
        try
        {
            string socket = Path.Combine(dir, "a.sock");
            (int code, string output, string error) = Invoke("--socket", socket, "--duration", "1", "--stats-interval", "0");

            Assert.Equal(0, code);
            Assert.Equal(string.Empty, error);
            Assert.Equal("vu0 down 1q tx 0 fr 0 B, rx 0 fr 0 B, drops tx 0 rx 0", output.Trim());
            Assert.False(File.Exists(socket));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("--poll-threads", "2", "--steering", "queue")]
    [InlineData("--worker-mode", "busy-poll", "--queues", "2")]
    public void Run_PollThreadsSteeringOrWorkerModeForOneSecond_CleanStop(params string[] extra)
    {
        string dir = Directory.CreateTempSubdirectory("vr-daemon-cli-").FullName;
        try
        {
            string socket = Path.Combine(dir, "a.sock");
            (int code, string output, string error) = Invoke(["--socket", socket, "--duration", "1", "--stats-interval", "0", .. extra]);

            Assert.Equal(0, code);
            Assert.Equal(string.Empty, error);
            Assert.StartsWith("vu0 down", output.Trim(), StringComparison.Ordinal);
            Assert.False(File.Exists(socket));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Code, string Output, string Error) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = DaemonCommandLine.Invoke(args, new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
