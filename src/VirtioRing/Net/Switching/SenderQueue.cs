using System.Diagnostics;
using System.Threading;
using VirtioRing.Net.Backends;

namespace VirtioRing.Net.Switching;

/// <summary>
/// The switch's state for one queue of one port as a sender: the batch's clock reading, the destinations to flush, the
/// frame held for flow control (and which ports already have it), and the counters this queue's thread writes. Also the
/// waker handed to a destination when a frame is held: it wakes this sender.
/// </summary>
/// <remarks>
/// Written only by the thread that drives the queue (a guest pair's worker, or under this object's lock for a backend
/// port's ingress); read by snapshots and wakers on other threads (plain reads: counters may lag).
/// </remarks>
[DebuggerDisplay("{Port.Name,nq} queue {Queue}")]
internal sealed class SenderQueue : INotifier
{
    public SenderQueue(NetSwitchPort port, int queue, int maxPorts)
    {
        Port = port;
        Queue = queue;
        OutFrames = new long[maxPorts];
        OutBytes = new long[maxPorts];
        OutFiltered = new long[maxPorts];
        OutNoBuffers = new long[maxPorts];
        OutQueueDown = new long[maxPorts];
        OutBadFrame = new long[maxPorts];
        SegmentsDone = new int[maxPorts];
    }

    public NetSwitchPort Port { get; }

    public int Queue { get; }

    // The batch clock: read on the first frame after a flush.
    public long Now;
    public bool NowValid;

    // Ports delivered to since the last flush.
    public ulong Touched;

    // The held frame (after Busy): which frame, and which ports already have it.
    public bool Holding;
    public ulong HeldDone;
    public int HeldLength;
    public ulong HeldDestination;
    public ulong HeldSource;
    public ulong HeldKey;
    public bool AnySegmentsDone;
    public readonly int[] SegmentsDone;

    // While filters are installed: the frame copied out of guest memory, inspected and delivered (grown on demand).
    public byte[]? PrivateCopy;
    public VirtioNetHeader PrivateHeader;

    // Ports whose wake-up this queue waits for (read by other threads' wakers).
    public ulong WaitingOn;

    // Backend-port ingress: inside PumpReceive; the backend's own waiter; woken since the last NoBuffers.
    public bool InPump;
    public INotifier? BackendWaiter;
    public int WokenSinceHeld;

    // Counters of frames this queue sent.
    public long InFrames;
    public long InBytes;
    public long Flooded;
    public long Held;
    public long InFiltered;
    public long InNoRoute;
    public long InQueueDown;
    public long InBadFrame;
    public long LearningRefused;

    // Counters per destination port.
    public readonly long[] OutFrames;
    public readonly long[] OutBytes;
    public readonly long[] OutFiltered;
    public readonly long[] OutNoBuffers;
    public readonly long[] OutQueueDown;
    public readonly long[] OutBadFrame;

    /// <summary>Wakes the sender: the destination it waited for has room again.</summary>
    public void Notify() => Port.WakeSender(this);

    public void WaitFor(ulong portBit) => Volatile.Write(ref WaitingOn, Volatile.Read(ref WaitingOn) | portBit);
}
