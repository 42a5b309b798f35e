using System;
using System.Runtime.InteropServices;

namespace VirtioRing.Linux.Interop;

/// <summary>
/// Keeps a <see cref="SafeHandle"/> alive (and its fd number from being closed and reused) for the
/// length of a raw call, as the runtime's SafeHandle marshalling does for a <c>LibraryImport</c>:
/// Tmds.LibC takes <c>int</c> fds, so the library adds the reference itself.
/// </summary>
internal ref struct FdRef
{
    private readonly SafeHandle _handle;
    private bool _added;

    /// <exception cref="ObjectDisposedException">The handle was closed.</exception>
    public FdRef(SafeHandle handle)
    {
        _handle = handle;
        _added = false;
        handle.DangerousAddRef(ref _added);   // throws ObjectDisposedException once closed
        Value = (int)handle.DangerousGetHandle();
    }

    /// <summary>Gets the fd number (valid until <see cref="Dispose"/>).</summary>
    public int Value { get; }

    public void Dispose()
    {
        if (_added)
        {
            _added = false;
            _handle.DangerousRelease();
        }
    }
}
