using System.Runtime.InteropServices;

namespace VirtioRing.Linux.Interop;

/// <summary>
/// <c>poll(2)</c> with <c>errno</c> kept. Tmds.LibC 0.5 declares its <c>poll</c> without <c>SetLastError</c>, so
/// <c>LibC.errno</c> after it reads whatever an earlier call left (0, <c>EAGAIN</c>…): an <c>EINTR</c> (a signal,
/// e.g. the SIGCHLD of a child process the waiting thread started; <c>poll</c> is never restarted) then looked like a
/// failure. Call this one and read <c>LibC.errno</c> after it as after any other call.
/// </summary>
internal static unsafe partial class Poll
{
    /// <summary><c>poll</c>: the number of ready descriptors, 0 on timeout, or -1 with <c>errno</c> (<c>EINTR</c>: retry).</summary>
    [LibraryImport("libc.so.6", SetLastError = true)]
    public static partial int poll(Tmds.Linux.pollfd* fds, nuint nfds, int timeout);
}
