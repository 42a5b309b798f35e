using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VirtioRing.Net.Control;

/// <summary>What the device-side handler did with one control command.</summary>
[DebuggerDisplay("{Command} {Ack} {Error} written={WrittenLength}")]
[StructLayout(LayoutKind.Auto)]
public readonly struct ControlResult
{
    internal ControlResult(NetControlCommandId command, ControlAck ack, NetControlError error, uint writtenLength, bool stateChanged)
    {
        Command = command;
        Ack = ack;
        Error = error;
        WrittenLength = writtenLength;
        StateChanged = stateChanged;
    }

    /// <summary>Gets the class and command bytes read (<c>(class &lt;&lt; 8) | command</c>; may be a value the enum does not name; 0 when truncated).</summary>
    public NetControlCommandId Command { get; }

    /// <summary>Gets the ack written (meaningless when <see cref="WrittenLength"/> is 0).</summary>
    public ControlAck Ack { get; }

    /// <summary>Gets why the command was refused, or <see cref="NetControlError.None"/>.</summary>
    public NetControlError Error { get; }

    /// <summary>Gets the bytes written into the device-writable part: the used length to push (0, 1, or 9 for <c>VQ_GET</c>).</summary>
    public uint WrittenLength { get; }

    /// <summary>Gets whether a new state snapshot was published.</summary>
    public bool StateChanged { get; }
}
