using System.Runtime.InteropServices;

namespace VirtioRing.Linux.Interop;

/// <summary><c>struct sock_fprog</c>: a classic BPF program for <c>SO_ATTACH_FILTER</c> (16 bytes on 64-bit).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct sock_fprog
{
    public ushort len;
    public sock_filter* filter;
}
