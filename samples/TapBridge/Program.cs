// TapBridge: an in-process virtio-net guest bridged to a Linux TAP inside a network namespace the sample creates;
// the kernel in that namespace pings the guest through VirtioRing's TAP backend. See README.md ("TAP bridge").
using System;
using System.CommandLine;
using TapBridge;

var pairs = new Option<int>("--pairs")
{
    Description = "Queue pairs of the guest, and queues of the TAP (IFF_MULTI_QUEUE when more than one): 1..8. One ping runs per pair, so the kernel's flow steering spreads them over the TAP's queues.",
    DefaultValueFactory = _ => 2,
};
pairs.Validators.Add(r =>
{
    int v = r.GetValueOrDefault<int>();
    if (v is < 1 or > 8)
    {
        r.AddError("--pairs must be between 1 and 8.");
    }
});

var count = new Option<int>("--count")
{
    Description = "Echo requests each ping sends: 1..100000.",
    DefaultValueFactory = _ => 20,
};
count.Validators.Add(r =>
{
    int v = r.GetValueOrDefault<int>();
    if (v is < 1 or > 100_000)
    {
        r.AddError("--count must be between 1 and 100000.");
    }
});

var interval = new Option<int>("--interval")
{
    Description = "Milliseconds between one ping's requests: 10..10000.",
    DefaultValueFactory = _ => 50,
};
interval.Validators.Add(r =>
{
    int v = r.GetValueOrDefault<int>();
    if (v is < 10 or > 10_000)
    {
        r.AddError("--interval must be between 10 and 10000.");
    }
});

var size = new Option<int>("--size")
{
    Description = "ICMP payload bytes per request (ping -s): 0..1472 (a 1500-byte IP packet).",
    DefaultValueFactory = _ => 56,
};
size.Validators.Add(r =>
{
    int v = r.GetValueOrDefault<int>();
    if (v is < 0 or > 1472)
    {
        r.AddError("--size must be between 0 and 1472.");
    }
});

var packed = new Option<bool>("--packed")
{
    Description = "Use packed rings (virtio 1.2 §2.8) instead of split rings.",
};

var root = new RootCommand(
    "Creates a network namespace with a TAP in it (kernel side 10.77.0.1/24), bridges an in-process virtio-net guest "
    + "(10.77.0.2, answering ARP and ICMP echo) to the TAP through VirtioRing's TAP backend (writev from guest memory, readv into it), "
    + "pings the guest from inside the namespace, prints what moved, and removes the namespace on exit (Ctrl-C included). "
    + "Needs root and /dev/net/tun; nothing leaves the namespace.")
{
    pairs,
    count,
    interval,
    size,
    packed,
};

root.SetAction(parse => Bridge.Run(new BridgeOptions(
    parse.GetValue(pairs),
    parse.GetValue(count),
    parse.GetValue(interval),
    parse.GetValue(size),
    parse.GetValue(packed))));

return root.Parse(args).Invoke();
