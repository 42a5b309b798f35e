// QueueDemo: moves buffers through a VirtioRing virtqueue, driver and device on two threads, and
// verifies every payload end to end. See README.md ("Run it").
using System;
using System.CommandLine;
using QueueDemo;

var layout = new Option<string>("--layout")
{
    Description = "Ring layout: split (virtio 1.2 §2.7) or packed (§2.8).",
    DefaultValueFactory = _ => "split",
};
layout.AcceptOnlyFromAmong("split", "packed");

var queueSize = new Option<int>("--queue-size")
{
    Description = "Descriptors in the ring: 1..32768, a power of two for split.",
    DefaultValueFactory = _ => 256,
};

var buffers = new Option<long>("--buffers")
{
    Description = "Buffers to move through the queue: 1..100000000.",
    DefaultValueFactory = _ => 1_000_000,
};
buffers.Validators.Add(r =>
{
    long v = r.GetValueOrDefault<long>();
    if (v is < 1 or > 100_000_000)
    {
        r.AddError("--buffers must be between 1 and 100000000.");
    }
});

var segments = new Option<int>("--segments")
{
    Description = "Segments per chain: 1 = one device-writable buffer (like a receive queue); "
        + "2 = a request the device reads and checks, then a response it writes (like a request queue).",
    DefaultValueFactory = _ => 2,
};
segments.AcceptOnlyFromAmong("1", "2");

var batch = new Option<int>("--batch")
{
    Description = "Chains added before one publish (driver) and popped before one publish (device): 1..queue size.",
    DefaultValueFactory = _ => 32,
};

var indirect = new Option<bool>("--indirect")
{
    Description = "Negotiate VIRTIO_F_INDIRECT_DESC: two-segment chains go into indirect tables (one ring descriptor each).",
};
var eventIdx = new Option<bool>("--event-idx")
{
    Description = "Negotiate VIRTIO_F_EVENT_IDX: notifications are suppressed by event indices instead of flags.",
};
var inOrder = new Option<bool>("--in-order")
{
    Description = "Negotiate VIRTIO_F_IN_ORDER: the device uses buffers in the order they were made available.",
};

var root = new RootCommand(
    "Moves buffers through a VirtioRing virtqueue - the driver on one thread, the device on another - "
    + "verifies every payload end to end, and counts the notifications the suppression rules asked for.")
{
    layout, queueSize, buffers, segments, batch, indirect, eventIdx, inOrder,
};

root.SetAction(parse =>
{
    // Checks that involve two options run here: option defaults are not yet applied while the
    // parser validates.
    int size = parse.GetValue(queueSize);
    bool packed = parse.GetValue(layout) == "packed";
    int b = parse.GetValue(batch);
    if (size is < 1 or > 32768 || (!packed && (size & (size - 1)) != 0))
    {
        Console.Error.WriteLine($"--queue-size {size}: must be 1..32768{(packed ? "" : ", and a power of two for the split layout")}.");
        return 2;
    }

    if (b < 1 || b > size)
    {
        Console.Error.WriteLine($"--batch {b}: must be between 1 and the queue size ({size}).");
        return 2;
    }

    var options = new DemoOptions(
        Layout: parse.GetValue(layout)!,
        QueueSize: parse.GetValue(queueSize),
        Buffers: parse.GetValue(buffers),
        Segments: parse.GetValue(segments),
        Batch: parse.GetValue(batch),
        Indirect: parse.GetValue(indirect),
        EventIndex: parse.GetValue(eventIdx),
        InOrder: parse.GetValue(inOrder));
    return Demo.Run(options);
});

return root.Parse(args).Invoke();
