namespace VirtioRing.Net.Driver;

/// <summary>How the driver lays a transmitted frame out in descriptors (virtio 1.2 §5.1.6.2, §2.7.4 "Message Framing": any framing is allowed).</summary>
public enum NetTransmitLayout
{
    /// <summary>Header and frame in one buffer, one descriptor (more when the frame spans several buffers).</summary>
    HeaderInline = 0,

    /// <summary>The header in its own descriptor, then the frame (the layout legacy drivers use); with indirect descriptors the chain goes into an indirect table.</summary>
    HeaderSeparate,
}
