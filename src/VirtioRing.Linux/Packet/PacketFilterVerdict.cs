namespace VirtioRing.Linux.Packet;

/// <summary>What an <see cref="IPacketSocketFilter"/> decides for a frame.</summary>
public enum PacketFilterVerdict
{
    /// <summary>Let the frame through.</summary>
    Accept = 0,

    /// <summary>Drop the frame (counted in <see cref="PacketQueueCounters.TransmitFiltered"/> or <see cref="PacketQueueCounters.ReceiveFiltered"/>).</summary>
    Drop,
}
