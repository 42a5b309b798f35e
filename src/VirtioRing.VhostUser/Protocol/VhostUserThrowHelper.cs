using System;
using System.Diagnostics.CodeAnalysis;

namespace VirtioRing.VhostUser;

/// <summary>All throws of VirtioRing.VhostUser (STYLE C7).</summary>
internal static class VhostUserThrowHelper
{
    [DoesNotReturn]
    public static void ThrowProtocol(Protocol.VhostUserProtocolError error, Protocol.VhostUserRequest request, string message) =>
        throw new Protocol.VhostUserProtocolException(error, request, message);

    [DoesNotReturn]
    public static void ThrowArgument(string paramName, string message) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ThrowArgumentOutOfRange(string paramName, string message) => throw new ArgumentOutOfRangeException(paramName, message);

    [DoesNotReturn]
    public static void ThrowInvalidOperation(string message) => throw new InvalidOperationException(message);

    [DoesNotReturn]
    public static void ThrowObjectDisposed(string name) => throw new ObjectDisposedException(name);
}
