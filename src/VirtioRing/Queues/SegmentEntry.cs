using System;
using System.Runtime.InteropServices;

namespace VirtioRing.Queues;

/// <summary>A validated, translated segment as the chain store keeps it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SegmentEntry
{
    public ulong Address;
    public IntPtr Host;
    public uint Length;
    public bool Writable;
}
