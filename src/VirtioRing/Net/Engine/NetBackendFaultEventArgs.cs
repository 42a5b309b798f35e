using System;

namespace VirtioRing.Net.Engine;

/// <summary>Says which backend queue of a <see cref="NetDevice"/> failed, and why (<see cref="NetDevice.BackendFaulted"/>).</summary>
public sealed class NetBackendFaultEventArgs : EventArgs
{
    /// <summary>Creates the arguments.</summary>
    /// <param name="backendQueue">The backend queue.</param>
    /// <param name="error">What the backend reported.</param>
    public NetBackendFaultEventArgs(int backendQueue, Exception error)
    {
        BackendQueue = backendQueue;
        Error = error;
    }

    /// <summary>Gets the backend queue (its pairs are <c>p</c> with <c>p % QueueCount</c> equal to it).</summary>
    public int BackendQueue { get; }

    /// <summary>Gets what the backend reported (for a TAP or a packet socket, a <c>LinuxException</c> naming the call and the errno).</summary>
    public Exception Error { get; }
}
