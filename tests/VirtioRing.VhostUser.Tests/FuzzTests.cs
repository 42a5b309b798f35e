using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.InteropServices;
using VirtioRing.Linux;
using VirtioRing.VhostUser.Backend;
using VirtioRing.VhostUser.Protocol;
using VirtioRing.VhostUser.Tests.Infrastructure;
using VirtioRing.VhostUser.Transport;
using Xunit;
using Xunit.Abstractions;

namespace VirtioRing.VhostUser.Tests;

/// <summary>
/// Generated sessions against one back-end: arbitrary bytes, and valid QEMU-like sessions mutated
/// (messages dropped, repeated, swapped, bytes flipped, sizes and fds wrong, the stream cut) over
/// guest memory full of random bytes (hostile rings that the started workers chew on). Each ends with
/// a returned session (no crash, no hang); at the end no fd is left open and the device still works.
/// VIRTIORING_FUZZ_ITERATIONS sets the count (default 100 000), VIRTIORING_FUZZ_SEED the seed,
/// VIRTIORING_FUZZ_SESSION_PERCENT the share of (slower) mutated sessions (default 20; the rest are arbitrary bytes).
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class FuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void Serve_GeneratedSessions_NoCrashNoHangNoFdLeak()
    {
        int iterations = int.TryParse(Environment.GetEnvironmentVariable("VIRTIORING_FUZZ_ITERATIONS"), out int n) ? n : 100_000;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("VIRTIORING_FUZZ_SEED"), out int s) ? s : Random.Shared.Next();
        int sessionPercent = int.TryParse(Environment.GetEnvironmentVariable("VIRTIORING_FUZZ_SESSION_PERCENT"), out int sp) ? sp : 20;
        output.WriteLine($"seed {seed}, {iterations} sequences");
        var rng = new Random(seed);

        using var harness = new BackendHarness(options: new VhostUserNetBackendOptions());   // no logger: 10^5 errors would be noise
        using var split = new VhostGuest(harness.Device.OfferedFeatures, packed: false);
        using var packed = new VhostGuest(harness.Device.OfferedFeatures, packed: true);
        using var extra = MemfdGuestRegion.Create(new Memory.GuestAddress(0x4000_0000), 0x10000, "fuzz-extra");
        using var log = MemfdGuestRegion.Create(new Memory.GuestAddress(0), 0x1000, "fuzz-log");   // a log for pages below 128 MiB
        VhostGuest[] guests = [split, packed];
        foreach (VhostGuest g in guests)
        {
            FillRandom(g, rng);
        }

        // Warm up: a clean session starts the pair's worker (its epoll fds live as long as the device).
        RunOne(harness, Session(split, extra, log, rng, mutate: false));
        _ = RunOne(harness, [new Chunk([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [])]).Error?.ToString();   // the runtime opens its stack-trace symbol files once
        DeferredRelease.Drain();
        int before = FdCount.Current();
        var open = new HashSet<string>(FdTargets());

        var ends = new Dictionary<VhostUserSessionEnd, int>();
        var errors = new Dictionary<VhostUserProtocolError, int>();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            List<Chunk> chunks = rng.Next(100) >= sessionPercent ? Arbitrary(rng, guests[0]) : Session(guests[rng.Next(2)], extra, log, rng, mutate: true);
            VhostUserSessionResult r;
            try
            {
                r = RunOne(harness, chunks);
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"sequence {i} (seed {seed}) threw", e);
            }

            ends[r.End] = ends.GetValueOrDefault(r.End) + 1;
            if (r.Error is VhostUserProtocolException p)
            {
                errors[p.Error] = errors.GetValueOrDefault(p.Error) + 1;
            }

            Assert.True(r.End != VhostUserSessionEnd.ProtocolError || r.Error is VhostUserProtocolException, $"sequence {i} (seed {seed}): unexpected {r.Error}");
            if ((i & 0x3ff) == 0)
            {
                foreach (VhostGuest g in guests)
                {
                    FillRandom(g, rng);   // workers and used-ring writes change it; keep it hostile
                }
            }
        }

        output.WriteLine($"{iterations} sequences in {clock.Elapsed.TotalSeconds:F1} s");
        foreach (KeyValuePair<VhostUserSessionEnd, int> e in ends)
        {
            output.WriteLine($"  {e.Key}: {e.Value}");
        }

        foreach (KeyValuePair<VhostUserProtocolError, int> e in errors)
        {
            output.WriteLine($"    {e.Key}: {e.Value}");
        }

        Assert.False(harness.Device.IsRunning);
        Assert.False(harness.Backend.IsServing);
        DeferredRelease.Drain();
        foreach (string t in FdTargets())
        {
            if (!open.Contains(t))
            {
                output.WriteLine("  still open: " + t);
            }
        }

        FdCount.AssertNoneLeaked(before);
    }

    private static IEnumerable<string> FdTargets()
    {
        foreach (string f in System.IO.Directory.GetFiles("/proc/self/fd"))
        {
            string? target = null;
            try
            {
                target = new System.IO.FileInfo(f).LinkTarget;
            }
            catch (System.IO.IOException)
            {
            }

            yield return System.IO.Path.GetFileName(f) + " -> " + target;
        }
    }

    private static VhostUserSessionResult RunOne(BackendHarness harness, List<Chunk> chunks)
    {
        (VhostUserChannel a, VhostUserChannel b) = VhostUserChannel.CreatePair();
        using (a)
        using (b)
        {
            foreach (Chunk c in chunks)
            {
                RawSocket.Send(a.Handle, c.Bytes, c.Fds);
            }

            RawSocket.ShutdownWrite(a.Handle);
            return harness.Backend.Serve(b);   // reads to the end of the stream, on this thread
        }
    }

    private static void FillRandom(VhostGuest guest, Random rng)
    {
        foreach (Memory.GuestRegion r in guest.Memory.Regions)
        {
            Span<byte> all = guest.Memory.GetSpan(r.Start, Math.Min(r.Size, 1UL << 20));
            rng.NextBytes(all);
        }
    }

    private sealed record Chunk(byte[] Bytes, SafeHandle[] Fds);

    private static List<Chunk> Arbitrary(Random rng, VhostGuest guest)
    {
        var chunks = new List<Chunk>();
        int count = rng.Next(1, 4);
        for (int i = 0; i < count; i++)
        {
            byte[] bytes = new byte[rng.Next(1, 400)];
            rng.NextBytes(bytes);
            if (rng.Next(2) == 0 && bytes.Length >= 12)
            {
                bytes[4] = 1;   // a plausible header half of the time: version 1, a small request code
                bytes[5] = bytes[6] = bytes[7] = 0;
                bytes[0] = (byte)rng.Next(45);
                bytes[1] = bytes[2] = bytes[3] = 0;
            }

            SafeHandle[] fds = rng.Next(3) == 0 ? [guest.Kicks[0].Handle] : [];
            chunks.Add(new Chunk(bytes, fds));
        }

        return chunks;
    }

    /// <summary>A QEMU-like session (optionally mutated) as raw chunks.</summary>
    private static List<Chunk> Session(VhostGuest guest, MemfdGuestRegion extra, MemfdGuestRegion log, Random rng, bool mutate)
    {
        var m = new List<Msg>
        {
            new(VhostUserRequest.GetFeatures, []),
            new(VhostUserRequest.GetProtocolFeatures, []),
            new(VhostUserRequest.SetProtocolFeatures, U64((ulong)VhostUserNetBackendOptions.DefaultProtocolFeatures)),
            new(VhostUserRequest.GetQueueNum, []),
            new(VhostUserRequest.SetOwner, []),
            new(VhostUserRequest.SetFeatures, U64((ulong)guest.Accepted | VhostUserNetBackend.ProtocolFeaturesBit)),
            new(VhostUserRequest.SetMemTable, Table(guest.RegionDescription), guest.MemoryFd),
        };
        for (int q = 0; q < 2; q++)
        {
            m.Add(new(VhostUserRequest.SetVringNum, State((uint)q, (uint)guest.Rings[q].Size)));
            m.Add(new(VhostUserRequest.SetVringBase, State((uint)q, guest.Rings.IsPacked ? 0x8000_8000u : 0)));
            byte[] addr = new byte[VhostUserVringAddress.Length];
            VhostUserCodec.WriteVringAddress(addr, guest.RingAddress(q));
            m.Add(new(VhostUserRequest.SetVringAddr, addr));
            m.Add(new(VhostUserRequest.SetVringKick, U64((ulong)q), guest.Kicks[q].Handle));
            m.Add(new(VhostUserRequest.SetVringCall, U64((ulong)q), guest.Calls[q].Handle));
        }

        m.Add(new(VhostUserRequest.SetVringEnable, State(0, 1)));
        m.Add(new(VhostUserRequest.SetVringEnable, State(1, 1)));
        m.Add(new(VhostUserRequest.SetStatus, U64(0x0f)));
        if (mutate)
        {
            byte[] config = new byte[12 + 6];
            VhostUserCodec.WriteConfig(config, 0, 0, new byte[6]);
            byte[] region = new byte[VhostUserCodec.SingleRegionLength];
            VhostUserCodec.WriteSingleRegion(region, new VhostUserMemoryRegion(0x4000_0000, extra.Size, 0x7000_0000_0000, 0));
            Msg[] optional =
            [
                new(VhostUserRequest.GetConfig, config),
                new(VhostUserRequest.SendRarp, U64(0x563412005452)),
                new(VhostUserRequest.GetMaxMemSlots, []),
                new(VhostUserRequest.AddMemReg, region, extra.Handle),
                new(VhostUserRequest.RemMemReg, region),
                new(VhostUserRequest.GetVringBase, State(0, 0)),
                new(VhostUserRequest.GetVringBase, State(1, 0)),
                new(VhostUserRequest.SetVringEnable, State(1, 0)),
                new(VhostUserRequest.GetStatus, []),
                new(VhostUserRequest.ResetOwner, []),
                new(VhostUserRequest.SetVringErr, U64(0), guest.Calls[0].Handle),
                new(VhostUserRequest.SetLogBase, Log(log.Size, 0), log.Handle),
                new(VhostUserRequest.SetLogBase, Log(log.Size, 0), log.Handle),
                new(VhostUserRequest.SetLogFd, [], guest.Calls[1].Handle),
                new(VhostUserRequest.SetFeatures, U64((ulong)guest.Accepted | VhostUserNetBackend.ProtocolFeaturesBit | VhostUserNetBackend.LogAllFeatureBit)),
                new(VhostUserRequest.SetFeatures, U64((ulong)guest.Accepted | VhostUserNetBackend.ProtocolFeaturesBit | VhostUserNetBackend.LogAllFeatureBit)),
                new(VhostUserRequest.SetVringAddr, LoggedAddress(guest, 0, rng)),
                new(VhostUserRequest.SetVringAddr, LoggedAddress(guest, 1, rng)),
            ];
            int adds = rng.Next(0, 8);
            for (int i = 0; i < adds; i++)
            {
                m.Insert(rng.Next(m.Count + 1), optional[rng.Next(optional.Length)]);
            }

            foreach (EventFd kick in guest.Kicks)
            {
                kick.Notify();   // the workers look at the (random) rings as soon as they start
            }
        }

        var chunks = new List<Chunk>(m.Count);
        foreach (Msg msg in m)
        {
            chunks.Add(Encode(msg));
        }

        if (mutate)
        {
            int mutations = rng.Next(1, 4);
            for (int i = 0; i < mutations; i++)
            {
                Mutate(chunks, rng, guest);
            }
        }

        return chunks;
    }

    private static void Mutate(List<Chunk> chunks, Random rng, VhostGuest guest)
    {
        if (chunks.Count == 0)
        {
            return;
        }

        int at = rng.Next(chunks.Count);
        Chunk c = chunks[at];
        if (c.Bytes.Length < 12)
        {
            return;   // already cut
        }

        switch (rng.Next(10))
        {
            case 0:
                chunks.RemoveAt(at);
                break;
            case 1:
                chunks.Insert(rng.Next(chunks.Count + 1), c);
                break;
            case 2:
                int other = rng.Next(chunks.Count);
                (chunks[at], chunks[other]) = (chunks[other], chunks[at]);
                break;
            case 3:
                {
                    byte[] b = (byte[])c.Bytes.Clone();
                    int flips = rng.Next(1, 4);
                    for (int k = 0; k < flips; k++)
                    {
                        int pos = rng.Next(b.Length);
                        b[pos] ^= (byte)(1 << rng.Next(8));
                    }

                    chunks[at] = c with { Bytes = b };
                    break;
                }

            case 4:
                {
                    byte[] b = (byte[])c.Bytes.Clone();
                    if (b.Length > 12)
                    {
                        rng.NextBytes(b.AsSpan(12));   // a random payload of the right size
                    }

                    chunks[at] = c with { Bytes = b };
                    break;
                }

            case 5:
                {
                    byte[] b = (byte[])c.Bytes.Clone();
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), (uint)rng.Next(0, 300));   // a wrong size
                    chunks[at] = c with { Bytes = b };
                    break;
                }

            case 6:
                chunks[at] = c with { Fds = c.Fds.Length > 0 && rng.Next(2) == 0 ? [] : [.. c.Fds, guest.Kicks[rng.Next(2)].Handle] };
                break;
            case 7:
                {
                    byte[] b = (byte[])c.Bytes.Clone();
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)rng.Next(0, 50));   // another request
                    chunks[at] = c with { Bytes = b };
                    break;
                }

            case 8:
                {
                    // Cut the stream: this chunk ends early and nothing follows.
                    chunks[at] = c with { Bytes = c.Bytes[..rng.Next(c.Bytes.Length)] };
                    chunks.RemoveRange(at + 1, chunks.Count - at - 1);
                    break;
                }

            default:
                {
                    byte[] b = (byte[])c.Bytes.Clone();
                    if (b.Length >= 16)
                    {
                        b[12] = (byte)rng.Next(5);   // another vring index (or u64 low byte)
                    }

                    chunks[at] = c with { Bytes = b };
                    break;
                }
        }
    }

    private sealed record Msg(VhostUserRequest Request, byte[] Payload, params SafeHandle[] Fds);

    private static Chunk Encode(Msg m)
    {
        byte[] bytes = new byte[12 + m.Payload.Length];
        new VhostUserHeader(m.Request, VhostUserHeaderFlags.Version1 | VhostUserHeaderFlags.NeedReply, (uint)m.Payload.Length).Write(bytes);
        m.Payload.CopyTo(bytes, 12);
        return new Chunk(bytes, m.Fds);
    }

    private static byte[] U64(ulong v)
    {
        byte[] b = new byte[8];
        VhostUserCodec.WriteU64(b, v);
        return b;
    }

    private static byte[] Log(ulong size, ulong offset)
    {
        byte[] b = new byte[VhostUserLog.Length];
        VhostUserCodec.WriteLog(b, new VhostUserLog(size, offset));
        return b;
    }

    /// <summary>The ring's addresses with VHOST_VRING_F_LOG and a log_guest_addr inside the log, past it, or near 2^64.</summary>
    private static byte[] LoggedAddress(VhostGuest guest, int ring, Random rng)
    {
        ulong logAt = rng.Next(3) switch
        {
            0 => (ulong)rng.Next(0, 1 << 27),
            1 => (ulong)rng.NextInt64(),
            _ => ulong.MaxValue - (ulong)rng.Next(0, 8192),
        };
        byte[] b = new byte[VhostUserVringAddress.Length];
        VhostUserCodec.WriteVringAddress(b, guest.RingAddress(ring) with { Flags = VhostUserVringAddress.LogFlag, LogGuestAddress = logAt });
        return b;
    }

    private static byte[] State(uint index, uint num)
    {
        byte[] b = new byte[8];
        VhostUserCodec.WriteVringState(b, new VhostUserVringState(index, num));
        return b;
    }

    private static byte[] Table(VhostUserMemoryRegion region)
    {
        byte[] b = new byte[VhostUserCodec.MemoryTableLength(1)];
        VhostUserCodec.WriteMemoryTable(b, [region]);
        return b;
    }
}
