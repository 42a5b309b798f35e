namespace VirtioRing.VhostUser.Backend;

/// <summary>How a vhost-user session (one connection) ended.</summary>
public enum VhostUserSessionEnd
{
    /// <summary>The front-end closed the connection between messages.</summary>
    PeerClosed,

    /// <summary>The front-end sent something the protocol does not allow; the back-end closed the connection.</summary>
    ProtocolError,

    /// <summary>The socket failed (<c>ECONNRESET</c>, <c>EPIPE</c>…).</summary>
    TransportError,

    /// <summary>The serving was cancelled.</summary>
    Cancelled,
}
