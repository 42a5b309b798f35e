using System;
using VirtioRing.Memory;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Driver;
using VirtioRing.Net.Engine;

namespace VirtioRing.Net.InProcess;

/// <summary>
/// A whole virtio-net guest in this process: guest memory, the rings laid out in it, the guest's
/// driver (<see cref="NetDriver"/>) and the device (<see cref="NetDevice"/>) serving the same rings
/// with a backend — negotiated and wired the way a VMM would (kicks call <see cref="NetDevice.Kick"/>,
/// the device's calls ring a <see cref="Doorbell"/> per queue the guest can wait on).
/// </summary>
/// <remarks>
/// For tests, benchmarks, samples, and programs that want a user-space virtio-net endpoint on the
/// peer-guest switch. Threading follows <see cref="NetDriver"/>: one thread per queue pair on the
/// guest side; the device side runs as <see cref="InProcessGuestOptions.WorkerMode"/> says.
/// </remarks>
public sealed class InProcessGuest : IDisposable
{
    private const ulong RegionStart = 0x10_0000;
    private readonly Doorbell[] _calls;
    private bool _disposed;

    private InProcessGuest(GuestMemory memory, NetDriver driver, NetDevice device, NetDriverRings rings, Doorbell[] calls, InProcessGuestOptions options)
    {
        Memory = memory;
        Driver = driver;
        Device = device;
        Rings = rings;
        _calls = calls;
        Options = options;
    }

    /// <summary>Gets the options the guest was built with.</summary>
    public InProcessGuestOptions Options { get; }

    /// <summary>Gets the guest memory (rings and buffers; owned by this guest).</summary>
    public GuestMemory Memory { get; }

    /// <summary>Gets the guest's virtio-net driver.</summary>
    public NetDriver Driver { get; }

    /// <summary>Gets the device serving the guest.</summary>
    public NetDevice Device { get; }

    /// <summary>Gets the rings (one per queue, virtio numbering).</summary>
    public NetDriverRings Rings { get; }

    /// <summary>Gets the guest's MAC address.</summary>
    public MacAddress Mac => Options.Mac;

    /// <summary>Gets the negotiated features.</summary>
    public NetFeatures NegotiatedFeatures => Driver.NegotiatedFeatures;

    /// <summary>Builds a guest on a backend, negotiates, binds every queue and starts the device.</summary>
    /// <param name="backend">Where the device's traffic goes (a switch port, a loopback, a TAP).</param>
    /// <param name="options">The guest's options, or <see langword="null"/> for the defaults.</param>
    /// <returns>The running guest.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="backend"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="InvalidOperationException">The driver and device could not agree on features.</exception>
    public static InProcessGuest Create(INetBackend backend, InProcessGuestOptions? options = null)
    {
        if (backend is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(backend));
        }

        options ??= new InProcessGuestOptions();
        if (options.QueuePairs is < 1 or > 64)
        {
            ThrowHelper.ThrowArgumentOutOfRange(nameof(options), "QueuePairs must be 1..64.");
        }

        NetFeatures wanted = options.Packed ? options.DriverFeatures | NetFeatures.RingPacked : options.DriverFeatures & ~NetFeatures.RingPacked;
        if (options.QueuePairs == 1)
        {
            wanted &= ~(NetFeatures.Mq | NetFeatures.Rss);
        }

        var device = new NetDevice(new NetDeviceOptions
        {
            Mac = options.Mac,
            MaxQueuePairs = options.QueuePairs,
            OfferedFeatures = options.DeviceFeatures,
            Backend = backend,
            WorkerMode = options.WorkerMode,
            BatchSize = options.BatchSize,
            Name = options.Name,
            SignalFactory = options.SignalFactory,
        });

        GuestMemory? memory = null;
        try
        {
            // A first driver over a scratch page negotiates, to learn how much buffer area the
            // negotiated receive mode needs; the real one is built over memory of that size.
            NetFeatures accepted;
            ulong bufferBytes;
            using (GuestMemory probeMemory = GuestMemory.Allocate(new GuestAddress(RegionStart), 4096))
            {
                var probe = new NetDriver(DriverOptions(options, probeMemory, new GuestAddress(RegionStart), 4096, wanted));
                accepted = probe.Negotiate(device.OfferedFeatures);
                bufferBytes = probe.GetBufferAreaBytes(options.QueueSize);
            }

            NetFeatureCheck check = device.SetDriverFeatures(accepted);
            if (!check.IsValid)
            {
                ThrowHelper.ThrowInvalidOperation($"The device refused the driver's features: {check}.");
            }

            ulong ringBytes = Align(NetDriverRings.GetRequiredBytes(options.QueuePairs, options.QueueSize, accepted));
            memory = GuestMemory.Allocate(new GuestAddress(RegionStart), ringBytes + bufferBytes);
            var driver = new NetDriver(DriverOptions(options, memory, new GuestAddress(RegionStart + ringBytes), bufferBytes, wanted));
            driver.Negotiate(device.OfferedFeatures);
            NetDriverRings rings = NetDriverRings.Create(memory, new GuestAddress(RegionStart), ringBytes, options.QueuePairs, options.QueueSize, accepted);
            var calls = new Doorbell[rings.Count];
            var kicks = new INotifier?[rings.Count];
            for (int i = 0; i < rings.Count; i++)
            {
                calls[i] = new Doorbell();
                kicks[i] = new Kick(device, i);
                device.SetQueue(i, rings[i].CreateDeviceQueue(memory), calls[i]);
            }

            device.Start();
            driver.Bind(rings, kicks);
            return new InProcessGuest(memory, driver, device, rings, calls, options);
        }
        catch
        {
            device.Dispose();
            memory?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Waits until the device has used buffers for queue <paramref name="queueIndex"/> (received
    /// frames on a receive queue, completed sends on a transmit queue), with the
    /// enable-and-recheck rule so no interrupt is lost.
    /// </summary>
    /// <param name="queueIndex">The queue (virtio numbering: receiveq of pair p = 2p, transmitq = 2p + 1).</param>
    /// <param name="millisecondsTimeout">The longest wait, or -1 for no limit.</param>
    /// <returns><see langword="false"/> when the timeout passed first.</returns>
    public bool WaitForUsed(int queueIndex, int millisecondsTimeout)
    {
        if (Driver.EnableUsedNotifications(queueIndex))
        {
            return true;
        }

        return _calls[queueIndex].Wait(millisecondsTimeout);
    }

    /// <summary>Gets the doorbell the device rings when it interrupts queue <paramref name="queueIndex"/>.</summary>
    /// <param name="queueIndex">The queue (virtio numbering).</param>
    /// <returns>The doorbell.</returns>
    public Doorbell GetCall(int queueIndex) => _calls[queueIndex];

    /// <summary>Stops the device and frees the guest memory.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Device.Dispose();
        foreach (Doorbell d in _calls)
        {
            d.Dispose();
        }

        Memory.Dispose();
    }

    private static ulong Align(ulong value) => (value + 4095) & ~4095UL;

    private static NetDriverOptions DriverOptions(InProcessGuestOptions o, GuestMemory memory, GuestAddress area, ulong length, NetFeatures wanted)
    {
        var defaults = new NetDriverOptions(memory, area, length);
        return new NetDriverOptions(memory, area, length)
        {
            WantedFeatures = wanted,
            QueuePairs = o.QueuePairs,
            MergeableBufferSize = o.MergeableBufferSize,
            TxBufferSize = o.TxBufferSize,
            TxQueueSelector = o.TxQueueSelector ?? defaults.TxQueueSelector,
        };
    }

    /// <summary>A driver's kick for one queue: the device's notification.</summary>
    private sealed class Kick(NetDevice device, int index) : INotifier
    {
        public void Notify() => device.Kick(index);
    }
}
