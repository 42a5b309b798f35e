namespace VirtioRing.Net.Driver;

/// <summary>
/// Takes received frames in place, without a copy (<see cref="NetDriver.ReceiveBatch{TReceiver}"/>).
/// Implement it on a struct (passed by reference) or a class; neither allocates per frame.
/// </summary>
public interface INetFrameReceiver
{
    /// <summary>Handles one received frame; its bytes go back to the device when the call returns.</summary>
    /// <param name="header">The frame's virtio-net header.</param>
    /// <param name="frame">The frame's bytes in the driver's receive buffers.</param>
    void OnFrame(in VirtioNetHeader header, in NetReceivedFrame frame);
}
