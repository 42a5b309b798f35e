using System;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using VirtioRing.Memory;

namespace VirtioRing;

/// <summary>
/// Every throw of the library goes through here, so hot methods stay small and inlinable
/// (as System.IO.Pipelines' ThrowHelper). Guest faults are not thrown: they are statuses.
/// </summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowArgumentOutOfRange(string paramName, string? message = null) =>
        throw CreateArgumentOutOfRange(paramName, message);

    [DoesNotReturn]
    public static void ThrowArgument(string paramName, string message) =>
        throw CreateArgument(paramName, message);

    [DoesNotReturn]
    public static void ThrowArgumentNull(string paramName) =>
        throw new ArgumentNullException(paramName);

    [DoesNotReturn]
    public static void ThrowInvalidOperation(string message) =>
        throw CreateInvalidOperation(message);

    [DoesNotReturn]
    public static void ThrowObjectDisposed(string objectName) =>
        throw new ObjectDisposedException(objectName);

    [DoesNotReturn]
    public static void ThrowGuestMemory(GuestMemoryStatus status, GuestAddress address, ulong length) =>
        throw CreateGuestMemory(status, address, length);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ArgumentOutOfRangeException CreateArgumentOutOfRange(string paramName, string? message) =>
        message is null ? new ArgumentOutOfRangeException(paramName) : new ArgumentOutOfRangeException(paramName, message);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ArgumentException CreateArgument(string paramName, string message) =>
        new(message, paramName);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static InvalidOperationException CreateInvalidOperation(string message) => new(message);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static GuestMemoryException CreateGuestMemory(GuestMemoryStatus status, GuestAddress address, ulong length) =>
        new(status, address, length);
}
