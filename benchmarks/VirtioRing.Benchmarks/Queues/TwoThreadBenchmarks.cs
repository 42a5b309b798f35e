using System;
using System.Threading;
using BenchmarkDotNet.Attributes;
using VirtioRing.Queues;

namespace VirtioRing.Benchmarks.Queues;

/// <summary>
/// Driver and device on two threads, both spinning (no notifications), as a polling vhost backend
/// and a polling driver run. The benchmark thread is the driver: it keeps up to
/// <see cref="Batch"/> buffers in flight per publish and reclaims what the device thread returns.
/// Figures are per buffer; buffers/s = 1e9 / Mean(ns).
/// </summary>
[MemoryDiagnoser]
public class TwoThreadBenchmarks
{
    private const int Buffers = 1 << 16;   // per invocation
    private QueueRig _rig = null!;
    private Thread _device = null!;
    private volatile bool _stop;

    /// <summary>Ring layout.</summary>
    [Params(RingLayout.Split, RingLayout.Packed)]
    public RingLayout Layout { get; set; }

    /// <summary>Buffers per publish on both sides.</summary>
    [Params(1, 32)]
    public int Batch { get; set; }

    /// <summary>Builds the queues and starts the device thread.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _rig = new QueueRig(Layout, 1, VirtqueueFeatures.None);
        _stop = false;
        _device = new Thread(DeviceLoop) { IsBackground = true, Name = "device" };
        _device.Start();
    }

    /// <summary>Stops the device thread and frees guest memory.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _device.Join();
        _rig.Dispose();
    }

    /// <summary>Moves <c>2^16</c> buffers from driver to device and back.</summary>
    /// <returns>Buffers moved.</returns>
    [Benchmark(OperationsPerInvoke = Buffers)]
    public int Move()
    {
        IDriverQueue driver = _rig.Driver;
        int added = 0, reclaimed = 0, nextToken = 0;
        while (reclaimed < Buffers)
        {
            int room = Math.Min(Batch, Buffers - added);
            int n = 0;
            while (n < room && driver.Outstanding < QueueRig.QueueSize / 2 && driver.TryAddChain(_rig.Chain(nextToken), (ulong)nextToken))
            {
                nextToken = (nextToken + 1) & (QueueRig.QueueSize - 1);
                n++;
            }

            if (n > 0)
            {
                added += n;
                driver.PublishAvailable();
            }

            while (driver.TryReclaimUsed(out UsedBuffer _) == PopStatus.Popped)
            {
                reclaimed++;
            }
        }

        return reclaimed;
    }

    private void DeviceLoop()
    {
        IDeviceQueue device = _rig.Device;
        while (!_stop)
        {
            int n = 0;
            while (n < Batch && device.TryPopAvailable(out DescriptorChain chain) == PopStatus.Popped)
            {
                device.PushUsed(chain, QueueRig.Serve(chain));
                n++;
            }

            if (n > 0)
            {
                device.PublishUsed();
            }
            else if (device.IsBroken)
            {
                throw new InvalidOperationException($"device queue broke: {device.Fault}");
            }
            else
            {
                Thread.SpinWait(8);
            }
        }
    }
}
