namespace VirtioRing.Net.Switching;

/// <summary>What an <see cref="INetSwitchFilter"/> decides for a frame on its way from one port to another.</summary>
public enum NetSwitchFilterVerdict
{
    /// <summary>Forward the frame.</summary>
    Accept = 0,

    /// <summary>Drop the frame for this destination (counted in <see cref="NetSwitchPortCounters.DroppedFiltered"/> of the port the filter belongs to).</summary>
    Drop,
}
