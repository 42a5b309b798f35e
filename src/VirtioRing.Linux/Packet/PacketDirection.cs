namespace VirtioRing.Linux.Packet;

/// <summary>Which way a frame crosses a <see cref="PacketSocketBackend"/> (device-relative, as everywhere in VirtioRing).</summary>
public enum PacketDirection
{
    /// <summary>From the guest out to the interface (the guest's transmit queue, <c>sendmsg</c> on the packet socket).</summary>
    Transmit = 0,

    /// <summary>From the interface in to the guest (the packet socket's receive ring, then the guest's receive queue).</summary>
    Receive,
}
