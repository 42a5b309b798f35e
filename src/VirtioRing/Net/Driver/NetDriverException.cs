using System;

namespace VirtioRing.Net.Driver;

/// <summary>A control-queue command could not complete because of the device: no answer in time, or a broken queue.</summary>
public sealed class NetDriverException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="NetDriverException"/> class.</summary>
    public NetDriverException()
        : this(NetDriverFault.None, "The virtio-net device failed.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="NetDriverException"/> class.</summary>
    /// <param name="message">The message.</param>
    public NetDriverException(string message)
        : this(NetDriverFault.None, message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="NetDriverException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public NetDriverException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="NetDriverException"/> class.</summary>
    /// <param name="fault">What went wrong.</param>
    /// <param name="message">The message.</param>
    public NetDriverException(NetDriverFault fault, string message)
        : base(message) => Fault = fault;

    /// <summary>Gets what went wrong.</summary>
    public NetDriverFault Fault { get; }
}
