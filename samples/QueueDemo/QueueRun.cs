using System;
using System.Diagnostics;
using System.Threading;
using VirtioRing.Memory;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;

namespace QueueDemo;

/// <summary>
/// One run: a driver thread adds buffers, publishes them in batches and reclaims what the device
/// used; a device thread pops chains, checks each request, writes a response and pushes it back.
/// Each side notifies the other only when the ring's suppression rules (flags or event indices)
/// ask for it, and otherwise keeps polling; notifications are counted.
/// </summary>
/// <remarks>
/// Guest memory is one region: the rings, then the indirect table area, then one request and one
/// response buffer for each of <c>QueueSize</c> buffer slots. The driver tracks free slots itself
/// and passes (sequence, slot) as the chain's token.
/// </remarks>
internal sealed class QueueRun : IDisposable
{
    private const ulong GuestBase = 0x4000_0000;          // an arbitrary, page-aligned guest address
    private const int SlotBits = 16;                       // token = sequence << 16 | slot
    private static readonly long Timeout = Stopwatch.Frequency * 10;

    private readonly DemoOptions _options;
    private readonly GuestMemory _memory;
    private readonly IDriverQueue _driver;
    private readonly IDeviceQueue _device;
    private readonly GuestAddress _requests;
    private readonly GuestAddress _responses;
    private readonly Doorbell _kick = new();              // driver -> device
    private readonly Doorbell _interrupt = new();         // device -> driver
    private readonly StopFlag _stop = new();

    private long _reclaimed;                               // progress, read by the UI thread
    private long _deviceVerified;
    private long _driverVerified;
    private long _kicks;
    private long _interrupts;

    public QueueRun(DemoOptions options)
    {
        _options = options;
        int size = options.QueueSize;

        // An upper bound for either layout (split: 16 B descriptors + avail + padding + used;
        // packed: 16 B descriptors + two event structures), rounded to pages.
        ulong ringBytes = RoundUp((ulong)(32 * size) + 8192, 4096);
        var indirectOptions = new DriverQueueOptions(new GuestAddress(GuestBase + ringBytes), MaxIndirectSegments: 2);
        ulong indirectBytes = RoundUp(indirectOptions.IndirectAreaBytes(size), 4096);
        ulong slotBytes = (ulong)size * DemoOptions.SegmentBytes;
        _requests = new GuestAddress(GuestBase + ringBytes + indirectBytes);
        _responses = new GuestAddress(_requests.Value + slotBytes);
        ulong total = ringBytes + indirectBytes + 2 * slotBytes;

        _memory = GuestMemory.Allocate(new GuestAddress(GuestBase), total);
        var ringStart = new GuestAddress(GuestBase);
        VirtqueueFeatures features = options.Features;
        DriverQueueOptions driverOptions = options.Indirect ? indirectOptions : DriverQueueOptions.Default;
        if (options.IsPacked)
        {
            PackedQueueLayout layout = PackedQueueLayout.Contiguous(size, ringStart);
            _driver = new PackedDriverQueue(_memory, layout, features, driverOptions);
            _device = new PackedDeviceQueue(_memory, layout, features);
        }
        else
        {
            SplitQueueLayout layout = SplitQueueLayout.Contiguous(size, ringStart);
            _driver = new SplitDriverQueue(_memory, layout, features, driverOptions);
            _device = new SplitDeviceQueue(_memory, layout, features);
        }
    }

    /// <summary>Gets how many buffers the driver has reclaimed so far (any thread).</summary>
    public long Reclaimed => Volatile.Read(ref _reclaimed);

    /// <summary>Moves every buffer; blocks until both sides are done or one failed.</summary>
    public DemoResult Run()
    {
        var driverThread = new Thread(DriverLoop) { Name = "virtio driver", IsBackground = true };
        var deviceThread = new Thread(DeviceLoop) { Name = "virtio device", IsBackground = true };
        long start = Stopwatch.GetTimestamp();
        deviceThread.Start();
        driverThread.Start();
        driverThread.Join();
        deviceThread.Join();
        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);

        return new DemoResult(
            Moved: Reclaimed,
            Bytes: Reclaimed * _options.BytesPerBuffer,
            DeviceVerified: _deviceVerified,
            DriverVerified: _driverVerified,
            Kicks: _kicks,
            Interrupts: _interrupts,
            Elapsed: elapsed,
            Error: _stop.Reason);
    }

    public void Dispose() => _memory.Dispose();

    private void DriverLoop()
    {
        try
        {
            DriverLoopCore();
        }
        catch (Exception e)
        {
            _stop.Set("driver threw " + e);
        }
    }

    private void DriverLoopCore()
    {
        IDriverQueue q = _driver;
        long total = _options.Buffers;
        int batch = _options.Batch;
        bool twoSegments = _options.Segments == 2;

        // Free buffer slots, as a stack.
        int[] free = new int[_options.QueueSize];
        for (int i = 0; i < free.Length; i++)
        {
            free[i] = free.Length - 1 - i;
        }

        int freeCount = free.Length;
        Span<BufferSegment> segments = stackalloc BufferSegment[2];
        long next = 0, reclaimed = 0, verified = 0, kicks = 0;
        ulong expectedResponse = 0;   // the device completes in the order it popped: FIFO

        while (reclaimed < total && !_stop.IsSet)
        {
            // Add up to one batch of chains, publish once, kick only if the device asked.
            int added = 0;
            while (added < batch && next < total && freeCount > 0)
            {
                int slot = free[freeCount - 1];
                GuestAddress request = new(_requests.Value + ((ulong)slot * DemoOptions.SegmentBytes));
                GuestAddress response = new(_responses.Value + ((ulong)slot * DemoOptions.SegmentBytes));
                int n = 0;
                if (twoSegments)
                {
                    Payload.Fill(_memory.GetSpan(request, DemoOptions.SegmentBytes), (ulong)next, Payload.Request);
                    segments[n++] = BufferSegment.Readable(request, DemoOptions.SegmentBytes);
                }

                segments[n++] = BufferSegment.Writable(response, DemoOptions.SegmentBytes);
                if (!q.TryAddChain(segments.Slice(0, n), ((ulong)next << SlotBits) | (uint)slot))
                {
                    break;   // the ring is full: reclaim first
                }

                freeCount--;
                next++;
                added++;
            }

            if (added > 0)
            {
                q.PublishAvailable();
                if (q.ShouldNotifyDevice())
                {
                    kicks++;
                    _kick.Ring();
                }
            }

            // Reclaim everything the device has used, checking each response.
            int got = 0;
            PopStatus status;
            while ((status = q.TryReclaimUsed(out UsedBuffer used)) == PopStatus.Popped)
            {
                ulong sequence = used.Token >> SlotBits;
                int slot = (int)(used.Token & ((1UL << SlotBits) - 1));
                GuestAddress response = new(_responses.Value + ((ulong)slot * DemoOptions.SegmentBytes));
                if (sequence != expectedResponse)
                {
                    _stop.Set($"driver: reclaimed buffer {sequence}, expected {expectedResponse}");
                    return;
                }

                if (used.WrittenLength != DemoOptions.SegmentBytes
                    || !Payload.Matches(_memory.GetSpan(response, DemoOptions.SegmentBytes), sequence, Payload.Response))
                {
                    _stop.Set($"driver: buffer {sequence} came back with a wrong response ({used.WrittenLength} bytes)");
                    return;
                }

                verified++;
                expectedResponse++;
                free[freeCount++] = slot;
                got++;
            }

            if (status == PopStatus.Broken)
            {
                _stop.Set($"driver: queue broken: {q.Fault}");
                return;
            }

            reclaimed += got;
            Volatile.Write(ref _reclaimed, reclaimed);
            if (added == 0 && got == 0 && reclaimed < total)
            {
                // Nothing to add and nothing used: ask for an interrupt, re-check, then wait.
                int seen = _interrupt.Count;
                if (!q.EnableUsedNotifications())
                {
                    if (!_interrupt.WaitForRing(seen, _stop, Timeout))
                    {
                        _stop.Set($"driver: no interrupt for 10 s with {q.Outstanding} buffers outstanding (lost notification?)");
                        return;
                    }
                }

                q.DisableUsedNotifications();
            }
        }

        _driverVerified = verified;
        _kicks = kicks;
    }

    private void DeviceLoop()
    {
        try
        {
            DeviceLoopCore();
        }
        catch (Exception e)
        {
            _stop.Set("device threw " + e);
        }
    }

    private void DeviceLoopCore()
    {
        IDeviceQueue q = _device;
        long total = _options.Buffers;
        int batch = _options.Batch;
        bool twoSegments = _options.Segments == 2;
        long done = 0, verified = 0, interrupts = 0;

        while (done < total && !_stop.IsSet)
        {
            int popped = 0;
            PopStatus status = PopStatus.Empty;
            while (popped < batch && (status = q.TryPopAvailable(out DescriptorChain chain)) == PopStatus.Popped)
            {
                ulong sequence = (ulong)(done + popped);   // the avail ring is FIFO
                int responseIndex = chain.ReadableCount;
                if (chain.SegmentCount != _options.Segments || chain.WritableCount != 1)
                {
                    _stop.Set($"device: buffer {sequence} has {chain.ReadableCount}+{chain.WritableCount} segments");
                    return;
                }

                if (twoSegments)
                {
                    if (!Payload.Matches(chain.GetSpan(0), sequence, Payload.Request))
                    {
                        _stop.Set($"device: buffer {sequence} carries a wrong request");
                        return;
                    }

                    verified++;
                }

                Payload.Fill(chain.GetSpan(responseIndex), sequence, Payload.Response);
                q.PushUsed(chain, DemoOptions.SegmentBytes);
                popped++;
            }

            if (status == PopStatus.Broken)
            {
                _stop.Set($"device: queue broken: {q.Fault}");
                return;
            }

            if (popped > 0)
            {
                done += popped;
                q.PublishUsed();
                if (q.ShouldNotifyDriver())
                {
                    interrupts++;
                    _interrupt.Ring();
                }

                continue;
            }

            // Empty: ask for a kick, re-check, then wait for it.
            int seen = _kick.Count;
            if (!q.EnableNotifications())
            {
                if (!_kick.WaitForRing(seen, _stop, Timeout))
                {
                    _stop.Set($"device: no kick for 10 s after {done} buffers (lost notification?)");
                    return;
                }
            }

            q.DisableNotifications();
        }

        _deviceVerified = verified;
        _interrupts = interrupts;
    }

    private static ulong RoundUp(ulong value, ulong alignment) => (value + alignment - 1) / alignment * alignment;
}
