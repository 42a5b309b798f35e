using System;

namespace VirtioRing.VhostUser.Protocol;

/// <summary>
/// A vhost-user peer sent something the protocol does not allow: a malformed, truncated, oversized or
/// out-of-order message, a missing or extra fd, a bad region or ring address. The back-end logs it
/// and closes that connection; the process and its other devices go on.
/// </summary>
public sealed class VhostUserProtocolException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="error">Why the message was refused.</param>
    /// <param name="request">The request it concerns, or <see cref="VhostUserRequest.None"/>.</param>
    /// <param name="message">A description for logs.</param>
    public VhostUserProtocolException(VhostUserProtocolError error, VhostUserRequest request, string message)
        : base($"vhost-user {(request == VhostUserRequest.None ? "message" : request.ToString())}: {message} ({error})")
    {
        Error = error;
        Request = request;
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public VhostUserProtocolException()
        : this(VhostUserProtocolError.InvalidValue, VhostUserRequest.None, "protocol error")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">A description for logs.</param>
    public VhostUserProtocolException(string message)
        : this(VhostUserProtocolError.InvalidValue, VhostUserRequest.None, message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">A description for logs.</param>
    /// <param name="innerException">The cause.</param>
    public VhostUserProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
        Error = VhostUserProtocolError.InvalidValue;
    }

    /// <summary>Gets why the message was refused.</summary>
    public VhostUserProtocolError Error { get; }

    /// <summary>Gets the request it concerns, or <see cref="VhostUserRequest.None"/>.</summary>
    public VhostUserRequest Request { get; }
}
