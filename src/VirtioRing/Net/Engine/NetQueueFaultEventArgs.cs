using System;
using VirtioRing.Queues;

namespace VirtioRing.Net.Engine;

/// <summary>Says which queue of a <see cref="NetDevice"/> broke, and why (<see cref="NetDevice.QueueBroken"/>).</summary>
public sealed class NetQueueFaultEventArgs : EventArgs
{
    /// <summary>Creates the arguments.</summary>
    /// <param name="queueIndex">The virtqueue index (receiveq(p) = 2p, transmitq(p) = 2p+1, controlq = 2 * max pairs).</param>
    /// <param name="fault">The queue's fault.</param>
    public NetQueueFaultEventArgs(int queueIndex, VirtqueueFault fault)
    {
        QueueIndex = queueIndex;
        Fault = fault;
    }

    /// <summary>Gets the virtqueue index.</summary>
    public int QueueIndex { get; }

    /// <summary>Gets the fault the queue recorded.</summary>
    public VirtqueueFault Fault { get; }
}
