namespace VirtioRing.Net.Backends;

/// <summary>A backend's source of received frames that writes them into lent buffers (<see cref="INetDirectReceiveHost.ReceiveDirect"/>).</summary>
public interface INetDirectReader
{
    /// <summary>
    /// Reads one waiting frame into <paramref name="buffers"/>, in segment order: a virtio-net header of
    /// <see cref="NetReceiveBuffers.HeaderSize"/> bytes first (what a TAP writes with its vnet header size
    /// set to that size; <c>num_buffers</c> and the hash fields need not be set), then the frame.
    /// </summary>
    /// <param name="buffers">The buffers to fill.</param>
    /// <returns>
    /// The bytes the frame took, header included — more than <see cref="NetReceiveBuffers.Capacity"/>
    /// when the source had to cut it (the host drops it); 0 when nothing is waiting; -1 when the source
    /// failed for good (the reader has reported it through <see cref="INetBackendHost.ReportFault"/>).
    /// </returns>
    int Read(in NetReceiveBuffers buffers);
}
