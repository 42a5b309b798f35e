using System;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Tmds.Linux;

namespace VirtioRing.Linux.Interop;

/// <summary>All throws of VirtioRing.Linux (STYLE C7): <c>[DoesNotReturn]</c>, out of line.</summary>
internal static class LinuxThrowHelper
{
    /// <summary>Throws a <see cref="LinuxException"/> for the <c>errno</c> the last call left.</summary>
    [DoesNotReturn]
    public static void ThrowErrno(string callName) => throw CreateErrno(callName, LibC.errno);

    [DoesNotReturn]
    public static void ThrowErrno(string callName, string detail) => throw new LinuxException(callName, LibC.errno, detail);

    [DoesNotReturn]
    public static void ThrowErrno(string callName, int errno) => throw CreateErrno(callName, errno);

    [DoesNotReturn]
    public static void ThrowObjectDisposed(string name) => throw new ObjectDisposedException(name);

    [DoesNotReturn]
    public static void ThrowArgumentOutOfRange(string paramName, string message) => throw new ArgumentOutOfRangeException(paramName, message);

    [DoesNotReturn]
    public static void ThrowArgument(string paramName, string message) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ThrowInvalidOperation(string message) => throw new InvalidOperationException(message);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static LinuxException CreateErrno(string callName, int errno) => new(callName, errno);
}
