// InterGuestLan: N in-process virtio-net guests on the VirtioRing peer-guest switch, all-to-all
// traffic over M queue pairs each, every payload verified end to end. See README.md.
using System;
using System.Collections.Generic;
using System.CommandLine;
using InterGuestLan;

var guests = new Option<int>("--guests")
{
    Description = "Number of in-process guests (virtio-net driver + device each) on the switch: 2..16.",
    DefaultValueFactory = _ => 4,
};
guests.Validators.Add(r => Range(r, r.GetValueOrDefault<int>(), 2, 16, "--guests"));

var pairs = new Option<int>("--pairs")
{
    Description = "Queue pairs per guest, all made active with VQ_PAIRS_SET on the control queue; the driver's flow-hash selector spreads flows over them: 1..8.",
    DefaultValueFactory = _ => 2,
};
pairs.Validators.Add(r => Range(r, r.GetValueOrDefault<int>(), 1, 8, "--pairs"));

var frameSize = new Option<int>("--frame-size")
{
    Description = "Ethernet frame length in bytes, headers included (IPv4/UDP, one checked message each): 64..9000; not used with --tso.",
    DefaultValueFactory = _ => 64,
};
frameSize.Validators.Add(r => Range(r, r.GetValueOrDefault<int>(), 64, 9000, "--frame-size"));

var tso = new Option<bool>("--tso")
{
    Description = "Send 64 KiB TCP/IPv4 TSO super-frames (GSO TCPV4 + NEEDS_CSUM, 44 segments of 1460 bytes): guests with GUEST_TSO get them whole, the others get segments the device cuts.",
};

var noGuestTso = new Option<int[]>("--no-guest-tso")
{
    Description = "Guest ids (0-based) whose driver declines GUEST_TSO4/6, so TSO frames reach them as segments; default with --tso: every odd-numbered guest; give no ids to keep TSO on all.",
    AllowMultipleArgumentsPerToken = true,
    Arity = ArgumentArity.ZeroOrMore,
};

var duration = new Option<int>("--duration")
{
    Description = "Seconds the guests send before the run drains and reports: 1..3600.",
    DefaultValueFactory = _ => 5,
};
duration.Validators.Add(r => Range(r, r.GetValueOrDefault<int>(), 1, 3600, "--duration"));

var frames = new Option<long>("--frames")
{
    Description = "Most frames each guest sends (the run ends earlier if all guests reach it); 0 for no limit but --duration.",
    DefaultValueFactory = _ => 0,
};
frames.Validators.Add(r =>
{
    long v = r.GetValueOrDefault<long>();
    if (v is < 0 or > 1_000_000_000_000)
    {
        r.AddError("--frames must be between 0 and 10^12.");
    }
});

var packed = new Option<bool>("--packed")
{
    Description = "Use packed rings (virtio 1.2 §2.8) instead of split rings (§2.7).",
};

var lossless = new Option<bool>("--lossless")
{
    Description = "Lossless flow control (the default): the switch holds a sender's frame until the receiver posts a buffer; any loss fails the run.",
};

var drop = new Option<bool>("--drop")
{
    Description = "Drop-and-count flow control: a frame for a receiver without buffers is dropped and counted; losses are reported, not errors.",
};

var queueSize = new Option<int>("--queue-size")
{
    Description = "Descriptors in every receive and transmit ring: a power of two, 64..4096.",
    DefaultValueFactory = _ => 256,
};
queueSize.Validators.Add(r =>
{
    int v = r.GetValueOrDefault<int>();
    if (v is < 64 or > 4096 || (v & (v - 1)) != 0)
    {
        r.AddError("--queue-size must be a power of two between 64 and 4096.");
    }
});

var root = new RootCommand(
    "Starts N in-process virtio-net guests (driver and device each, no privileges, no QEMU) on the VirtioRing "
    + "peer-guest switch, sends all-to-all traffic over M queue pairs per guest, shows per-guest rates live, and "
    + "verifies every message end to end (sender, destination, per-flow sequence, pattern, checksums). "
    + "Exit code 0 only if every received message verified and, in lossless mode, none was lost.")
{
    guests, pairs, frameSize, tso, noGuestTso, duration, frames, packed, lossless, drop, queueSize,
};

root.SetAction(parse =>
{
    if (parse.GetValue(lossless) && parse.GetValue(drop))
    {
        Console.Error.WriteLine("--lossless and --drop exclude each other.");
        return 2;
    }

    int n = parse.GetValue(guests);
    bool isTso = parse.GetValue(tso);
    IReadOnlyList<int> noTso;
    if (parse.GetResult(noGuestTso) is null)
    {
        var odd = new List<int>();
        for (int g = 1; isTso && g < n; g += 2)
        {
            odd.Add(g);
        }

        noTso = odd;
    }
    else
    {
        noTso = parse.GetValue(noGuestTso) ?? [];
        foreach (int g in noTso)
        {
            if ((uint)g >= (uint)n)
            {
                Console.Error.WriteLine($"--no-guest-tso {g}: guest ids are 0..{n - 1}.");
                return 2;
            }
        }
    }

    var options = new LanOptions(
        Guests: n,
        Pairs: parse.GetValue(pairs),
        FrameSize: parse.GetValue(frameSize),
        Tso: isTso,
        NoGuestTso: noTso,
        DurationSeconds: parse.GetValue(duration),
        MaxFrames: parse.GetValue(frames),
        Packed: parse.GetValue(packed),
        Lossless: !parse.GetValue(drop),
        QueueSize: parse.GetValue(queueSize));
    return Lan.Run(options);
});

return root.Parse(args).Invoke();

static void Range(System.CommandLine.Parsing.OptionResult result, long value, long min, long max, string name)
{
    if (value < min || value > max)
    {
        result.AddError($"{name} must be between {min} and {max}.");
    }
}
