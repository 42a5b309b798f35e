// Consumes VirtioRing as a NuGet package: one request/response round trip over a split queue.
// The driver offers a readable request and a writable response buffer; the device pops the chain,
// reads the request, writes the response, and pushes it as used; the driver reclaims it.
// Exits 0 only when the bytes the driver reads back are the ones the device wrote.
using System;
using System.Text;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Split;

const int QueueSize = 16;
var ringStart = new GuestAddress(0x0000);
var request = new GuestAddress(0x8000);
var response = new GuestAddress(0x9000);

using GuestMemory memory = GuestMemory.Allocate(new GuestAddress(0), 0x10000);
SplitQueueLayout layout = SplitQueueLayout.Contiguous(QueueSize, ringStart);
var driver = new SplitDriverQueue(memory, layout, VirtqueueFeatures.None);
var device = new SplitDeviceQueue(memory, layout, VirtqueueFeatures.None);

// Driver: a request the device reads, then a buffer the device writes.
byte[] requestBytes = Encoding.ASCII.GetBytes("ping from the driver");
memory.Write(request, requestBytes);
ReadOnlySpan<BufferSegment> chain =
[
    BufferSegment.Readable(request, (uint)requestBytes.Length),
    BufferSegment.Writable(response, 64),
];
if (!driver.TryAddChain(chain, token: 42))
{
    return Fail("TryAddChain found no free descriptors");
}

driver.PublishAvailable();
bool kick = driver.ShouldNotifyDevice();

// Device: pop, read the request, write the answer, push and publish.
if (device.TryPopAvailable(out DescriptorChain popped) != PopStatus.Popped)
{
    return Fail($"TryPopAvailable did not pop (fault: {device.Fault})");
}

var received = new byte[popped.ReadableLength];
popped.CopyFromReadable(0, received);
byte[] answer = Encoding.ASCII.GetBytes("pong: " + Encoding.ASCII.GetString(received));
int written = popped.CopyToWritable(0, answer);
device.PushUsed(popped, (uint)written);
device.PublishUsed();
bool interrupt = device.ShouldNotifyDriver();

// Driver: reclaim and read what the device wrote.
if (driver.TryReclaimUsed(out UsedBuffer used) != PopStatus.Popped)
{
    return Fail($"TryReclaimUsed did not reclaim (fault: {driver.Fault})");
}

var readBack = new byte[used.WrittenLength];
memory.Read(response, readBack);
Console.WriteLine($"kick={kick} interrupt={interrupt} token={used.Token} written={used.WrittenLength}");
Console.WriteLine($"device wrote: {Convert.ToHexString(answer)}");
Console.WriteLine($"driver read:  {Convert.ToHexString(readBack)} \"{Encoding.ASCII.GetString(readBack)}\"");

bool ok = used.Token == 42 && readBack.AsSpan().SequenceEqual(answer);
Console.WriteLine(ok ? "package consumer: bytes match" : "package consumer: MISMATCH");
return ok ? 0 : 1;

static int Fail(string why)
{
    Console.Error.WriteLine("package consumer: " + why);
    return 1;
}
