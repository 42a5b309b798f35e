using System;

namespace VirtioRing.Benchmarks.Net.Multiqueue;

/// <summary>Frames and tuples of many flows, so a benchmark cycles through different inputs.</summary>
internal static class BenchFrames
{
    public const int Count = 64;

    public static readonly byte[] Key = Convert.FromHexString("6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa");

    /// <summary>IPv4 TCP 4-tuples (source, destination, source port, destination port): 12 bytes each.</summary>
    public static byte[][] Tuples()
    {
        var random = new Random(42);
        var tuples = new byte[Count][];
        for (int i = 0; i < Count; i++)
        {
            tuples[i] = new byte[12];
            random.NextBytes(tuples[i]);
        }

        return tuples;
    }

    /// <summary>Full TCP/IPv4 frames (Ethernet + IPv4 + TCP + 64 bytes of payload), one per flow.</summary>
    public static byte[][] TcpV4Frames(bool reply = false)
    {
        byte[][] tuples = Tuples();
        var frames = new byte[Count][];
        for (int i = 0; i < Count; i++)
        {
            byte[] f = new byte[14 + 20 + 20 + 64];
            byte[] t = tuples[i];
            f[0] = 0x52;
            f[5] = (byte)(i % 4);   // four peer MACs
            f[12] = 0x08;
            f[14] = 0x45;
            f[16] = 0;
            f[17] = 20 + 20 + 64;
            f[20] = 0x40;           // don't fragment
            f[22] = 64;
            f[23] = 6;
            int a = reply ? 4 : 0, b = reply ? 0 : 4, pa = reply ? 10 : 8, pb = reply ? 8 : 10;
            Array.Copy(t, a, f, 26, 4);
            Array.Copy(t, b, f, 30, 4);
            Array.Copy(t, pa, f, 34, 2);
            Array.Copy(t, pb, f, 36, 2);
            f[46] = 0x50;
            frames[i] = f;
        }

        return frames;
    }

    /// <summary>TCP/IPv6 frames with a hop-by-hop and a destination-options header carrying a home address.</summary>
    public static byte[][] TcpV6ExtensionFrames()
    {
        var random = new Random(7);
        var frames = new byte[Count][];
        for (int i = 0; i < Count; i++)
        {
            byte[] f = new byte[14 + 40 + 8 + 24 + 20 + 64];
            f[12] = 0x86;
            f[13] = 0xDD;
            f[14] = 0x60;
            int payload = 8 + 24 + 20 + 64;
            f[18] = (byte)(payload >> 8);
            f[19] = (byte)payload;
            f[20] = 0;              // hop-by-hop
            f[21] = 64;
            random.NextBytes(f.AsSpan(22, 32));
            int h = 54;
            f[h] = 60;              // → destination options
            f[h + 2] = 1;           // PadN
            f[h + 3] = 4;
            h += 8;
            f[h] = 6;               // → TCP
            f[h + 1] = 2;
            f[h + 4] = 1;           // PadN(0)
            f[h + 6] = 0xC9;        // home address option
            f[h + 7] = 16;
            random.NextBytes(f.AsSpan(h + 8, 16));
            h += 24;
            random.NextBytes(f.AsSpan(h, 4));
            f[h + 12] = 0x50;
            frames[i] = f;
        }

        return frames;
    }
}
