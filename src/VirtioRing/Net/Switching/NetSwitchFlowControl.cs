namespace VirtioRing.Net.Switching;

/// <summary>What the switch does when a destination cannot take a frame now (a guest without receive buffers, a backend that answered busy).</summary>
public enum NetSwitchFlowControl
{
    /// <summary>
    /// Hold the frame in the sender's transmit chain (the sender's engine gets <see cref="Backends.NetTransmitStatus.Busy"/>)
    /// until the destination has room, then deliver it (lossless between guests). Head-of-line: the sender's transmit
    /// queue stops behind the held frame, so one slow receiver slows everything its sender sends on that queue (use one
    /// queue pair per peer to isolate peers); a guest that never posts receive buffers stalls, for good, every sender
    /// queue that tries to reach it (including with broadcasts), until it is removed from the switch.
    /// </summary>
    Lossless = 0,

    /// <summary>Drop the frame for that destination and count it (<see cref="NetSwitchPortCounters.DroppedNoBuffers"/>); senders never wait.</summary>
    DropAndCount,
}
