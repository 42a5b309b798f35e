using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VirtioRing.Linux;

/// <summary>
/// A Linux system call failed: carries the call's name, <c>errno</c>, and the C library's
/// <c>strerror</c> text for it (the message reads "<c>eventfd failed: Too many open files (errno 24)</c>").
/// </summary>
[DebuggerDisplay("{CallName}: errno {Errno}")]
public sealed class LinuxException : Win32Exception
{
    /// <summary>Creates the exception for a failed call.</summary>
    /// <param name="callName">The C name of the call that failed (<c>epoll_ctl</c>).</param>
    /// <param name="errno">The <c>errno</c> value it left.</param>
    public LinuxException(string callName, int errno)
        : base(errno, $"{callName} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
    {
        CallName = callName;
    }

    /// <summary>Creates the exception for a failed call, with extra context (a name or a size).</summary>
    /// <param name="callName">The C name of the call that failed.</param>
    /// <param name="errno">The <c>errno</c> value it left.</param>
    /// <param name="detail">What was being done, appended to the message.</param>
    public LinuxException(string callName, int errno, string detail)
        : base(errno, $"{callName} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}); {detail}")
    {
        CallName = callName;
    }

    /// <summary>Gets the C name of the call that failed.</summary>
    public string CallName { get; }

    /// <summary>Gets the <c>errno</c> value (the same as <see cref="Win32Exception.NativeErrorCode"/>).</summary>
    public int Errno => NativeErrorCode;

    /// <summary>Gets the C library's text for <see cref="Errno"/> (<c>strerror</c>).</summary>
    public string ErrorText => Marshal.GetPInvokeErrorMessage(NativeErrorCode);
}
