using System;

namespace VhostUserNet;

/// <summary>A device's backend could not be created (no such interface, no privilege, no <c>/dev/net/tun</c>, …). The message is one line that names the device and the cause.</summary>
public sealed class DaemonSetupException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DaemonSetupException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">One line: the device, what failed, why.</param>
    public DaemonSetupException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">One line: the device, what failed, why.</param>
    /// <param name="innerException">The cause.</param>
    public DaemonSetupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
