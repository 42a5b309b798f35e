using System;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Threading;

namespace VirtioRing.Benchmarks.Queues;

/// <summary>
/// The peer every queue benchmark is a ratio to: the bare split-ring layout with nothing on top
/// (one descriptor per buffer, in-order reuse, no features, no chain store), the device side still
/// bounds-checked, as DESIGN.md's "what the bare layout costs" figures. Whatever VirtioRing costs
/// beyond this is the price of its abstractions and checks.
/// </summary>
internal sealed unsafe class BareSplitRing : IDisposable
{
    private readonly byte* _mem;
    private readonly ulong _memSize;
    private readonly int _size;
    private readonly byte* _desc;
    private readonly byte* _avail;
    private readonly byte* _used;
    private ushort _driverAvail;    // driver's shadow avail idx
    private ushort _driverUsedSeen; // driver's last seen used idx
    private ushort _deviceAvailSeen;
    private ushort _deviceUsed;

    public BareSplitRing(int size, int bufferBytes)
    {
        _size = size;
        _memSize = (ulong)(16 * size + 6 + 2 * size + 4 + 6 + 8 * size + 64 + size * bufferBytes);   // +4: used ring alignment
        _mem = (byte*)NativeMemory.AlignedAlloc((nuint)_memSize, 4096);
        NativeMemory.Clear(_mem, (nuint)_memSize);
        _desc = _mem;
        _avail = _desc + 16 * size;
        _used = _mem + ((16 * size + 6 + 2 * size + 3) & ~3);
        ulong buffers = (ulong)(_used - _mem) + (ulong)(6 + 8 * size + 64);
        for (int i = 0; i < size; i++)
        {
            byte* d = _desc + 16 * i;
            *(ulong*)d = buffers + (ulong)(i * bufferBytes);
            *(uint*)(d + 8) = (uint)bufferBytes;
            *(ushort*)(d + 12) = 2; // WRITE
        }
    }

    /// <summary>Driver: make <paramref name="n"/> buffers available (in-order heads) and publish once.</summary>
    public void Add(int n)
    {
        for (int i = 0; i < n; i++)
        {
            ushort head = (ushort)(_driverAvail & (_size - 1));
            *(ushort*)(_avail + 4 + 2 * head) = head;
            _driverAvail++;
        }

        Volatile.Write(ref *(ushort*)(_avail + 2), _driverAvail);
    }

    /// <summary>Device: pop everything available, write 4 bytes into each buffer, push, publish once.</summary>
    public int Serve()
    {
        ushort availIdx = Volatile.Read(ref *(ushort*)(_avail + 2));
        ushort pending = (ushort)(availIdx - _deviceAvailSeen);
        if (pending > _size)
        {
            throw new InvalidOperationException("avail idx jump");
        }

        for (int i = 0; i < pending; i++)
        {
            ushort head = *(ushort*)(_avail + 4 + 2 * ((_deviceAvailSeen + i) & (_size - 1)));
            if (head >= _size)
            {
                throw new InvalidOperationException("bad head");
            }

            ReadOnlySpan<byte> d = new(_desc + 16 * head, 16);   // one copy of the descriptor
            ulong addr = BinaryPrimitives.ReadUInt64LittleEndian(d);
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(d.Slice(8));
            if (addr >= _memSize || len > _memSize - addr || len < 4)
            {
                throw new InvalidOperationException("bad buffer");
            }

            *(uint*)(_mem + addr) = head;
            byte* u = _used + 4 + 8 * ((_deviceUsed + i) & (_size - 1));
            *(uint*)u = head;
            *(uint*)(u + 4) = 4;
        }

        _deviceAvailSeen = availIdx;
        _deviceUsed += pending;
        Volatile.Write(ref *(ushort*)(_used + 2), _deviceUsed);
        return pending;
    }

    /// <summary>Driver: reclaim every used buffer; returns the count.</summary>
    public int Reclaim()
    {
        ushort usedIdx = Volatile.Read(ref *(ushort*)(_used + 2));
        int n = (ushort)(usedIdx - _driverUsedSeen);
        int sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += *(int*)(_used + 4 + 8 * ((_driverUsedSeen + i) & (_size - 1)) + 4);
        }

        _driverUsedSeen = usedIdx;
        return sum >= 0 ? n : 0;
    }

    public void Dispose() => NativeMemory.AlignedFree(_mem);
}
