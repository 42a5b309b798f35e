using System;
using System.IO;
using Microsoft.Win32.SafeHandles;

namespace VirtioRing.VhostUser.Tests.Infrastructure;

/// <summary>A file on tmpfs (<c>/dev/shm</c>): shared memory a front-end could truncate and nobody can seal. Removed on dispose.</summary>
public sealed class TmpfsFile : IDisposable
{
    public TmpfsFile(long size)
    {
        Path = System.IO.Path.Combine("/dev/shm", "virtioring-test-" + Guid.NewGuid().ToString("N"));
        using (var f = new FileStream(Path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            f.SetLength(size);
        }

        Handle = File.OpenHandle(Path, FileMode.Open, FileAccess.ReadWrite);
    }

    public string Path { get; }

    /// <summary>Gets the file, open for reading and writing (to pass as a region's or the log's fd).</summary>
    public SafeFileHandle Handle { get; }

    public void Dispose()
    {
        Handle.Dispose();
        File.Delete(Path);
    }
}
