namespace VirtioRing.Net.Rx;

/// <summary>How receive buffers are used (virtio 1.3 §5.1.6.3 "Setting Up Receive Buffers", §5.1.6.4).</summary>
public enum NetReceiveMode
{
    /// <summary><c>MRG_RXBUF</c>: a frame spreads over as many buffers as it takes; <c>num_buffers</c> says how many.</summary>
    Mergeable = 0,

    /// <summary>No <c>MRG_RXBUF</c>, with a <c>GUEST_TSO*</c>/<c>UFO</c>/<c>USO*</c> offload: one buffer per frame, buffers big enough for 65589-byte frames.</summary>
    BigBuffers,

    /// <summary>No <c>MRG_RXBUF</c> and no receive offload: one buffer per frame, frames at most 1514 bytes.</summary>
    SmallBuffers,
}
