using System;

namespace VirtioRing.TestKit;

/// <summary>A queue did something the reference model does not allow.</summary>
public sealed class ModelMismatchException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ModelMismatchException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What differed.</param>
    public ModelMismatchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What differed.</param>
    /// <param name="innerException">The exception the queue threw.</param>
    public ModelMismatchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
