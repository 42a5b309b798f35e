namespace VirtioRing.Net.Control;

/// <summary>Why the device answered a control command with <see cref="ControlAck.Err"/> (or could not answer at all).</summary>
public enum NetControlError
{
    /// <summary>No error: the command was applied (<see cref="ControlAck.Ok"/>).</summary>
    None = 0,

    /// <summary>The chain has no device-writable byte, so no ack can be written; nothing was changed.</summary>
    NoWritableByte,

    /// <summary>The readable part is shorter than the two-byte class and command header.</summary>
    Truncated,

    /// <summary>The readable part is longer than any valid command the handler's limits allow.</summary>
    TooLarge,

    /// <summary>The class is not one the handler knows.</summary>
    UnknownClass,

    /// <summary>The command is not one the class defines.</summary>
    UnknownCommand,

    /// <summary>The feature the command belongs to was not negotiated.</summary>
    FeatureNotNegotiated,

    /// <summary>The command-specific data has the wrong length for the command.</summary>
    BadLength,

    /// <summary>A field holds a value the spec or the device limits do not allow.</summary>
    InvalidValue,

    /// <summary>The command is not valid in the current state (for example an announce ack with no announce pending).</summary>
    InvalidState,

    /// <summary>The device-writable part is too small for the command's result.</summary>
    ResponseTooSmall,
}
