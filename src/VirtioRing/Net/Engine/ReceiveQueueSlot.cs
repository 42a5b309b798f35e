using System;
using VirtioRing.Net.Backends;
using VirtioRing.Net.Rx;
using VirtioRing.Queues;

namespace VirtioRing.Net.Engine;

/// <summary>
/// One receive queue of a device: the device queue, its writer, its call notifier and counters,
/// the space waiters, and the scratch buffers offload adaptation needs. Everything here is guarded
/// by <see cref="Gate"/> (deliveries come from any thread).
/// </summary>
internal sealed class ReceiveQueueSlot
{
    private INotifier?[] _waiters = new INotifier?[4];
    private int _waiterCount;
    private byte[]? _gather;
    private byte[]? _segment;
    private DirectSegments? _lent;

    public ReceiveQueueSlot(int pair)
    {
        Pair = pair;
    }

    public object Gate { get; } = new();

    public int Pair { get; }

    public int QueueIndex => 2 * Pair;

    public IDeviceQueue? Queue;

    public INotifier? Call;

    public NetReceiveWriter? Writer;

    public bool Enabled = true;

    /// <summary>Set while the pair is active (steering may choose it).</summary>
    public bool Active;

    /// <summary>Pushed used elements not yet published.</summary>
    public bool Dirty;

    public bool Broken;

    public QueueCounterCells Counters { get; } = new();

    /// <summary>Gets whether deliveries may write into the queue (under the gate).</summary>
    public bool Usable => Writer is not null && Enabled && Active && !Broken;

    public byte[] Gather => _gather ??= new byte[NetDevice.MaxFrameBytes];

    /// <summary>The segments lent to a direct reader (<see cref="NetDevice.ReceiveDirect"/>), reused per frame.</summary>
    public DirectSegments Lent => _lent ??= new DirectSegments();

    public byte[] Segment => _segment ??= new byte[NetDevice.MaxFrameBytes];

    public void AddWaiter(INotifier waiter)
    {
        for (int i = 0; i < _waiterCount; i++)
        {
            if (ReferenceEquals(_waiters[i], waiter))
            {
                return;
            }
        }

        if (_waiterCount == _waiters.Length)
        {
            Array.Resize(ref _waiters, _waiters.Length * 2);
        }

        _waiters[_waiterCount++] = waiter;
    }

    public void RemoveWaiter(INotifier waiter)
    {
        for (int i = 0; i < _waiterCount; i++)
        {
            if (ReferenceEquals(_waiters[i], waiter))
            {
                _waiters[i] = _waiters[--_waiterCount];
                _waiters[_waiterCount] = null;
                return;
            }
        }
    }

    /// <summary>Notifies and forgets every waiter (one-shot). Called under the gate; notifiers never block.</summary>
    public void FireWaiters()
    {
        int n = _waiterCount;
        _waiterCount = 0;
        for (int i = 0; i < n; i++)
        {
            INotifier? w = _waiters[i];
            _waiters[i] = null;
            w?.Notify();
        }
    }

    /// <summary>Publishes pushed elements; returns whether the driver must be notified (under the gate).</summary>
    public bool PublishLocked()
    {
        if (!Dirty || Queue is null)
        {
            return false;
        }

        Dirty = false;
        Queue.PublishUsed();
        return Queue.ShouldNotifyDriver();
    }
}
