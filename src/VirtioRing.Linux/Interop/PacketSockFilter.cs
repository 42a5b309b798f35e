using System.Runtime.InteropServices;

namespace VirtioRing.Linux.Interop;

/// <summary><c>struct sock_filter</c>: one classic BPF instruction (8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct sock_filter
{
    public ushort code;
    public byte jt;
    public byte jf;
    public uint k;
}
