using System;
using BenchmarkDotNet.Attributes;
using VirtioRing.Net.Offload;

namespace VirtioRing.Benchmarks.Net.Offload;

/// <summary>
/// The offload helpers on realistic frames: TSO of a 64 KiB TCP/IPv4 super-frame (65,483 payload bytes, the most an IPv4
/// packet carries with a 32-byte TCP header) into 1448-byte segments (46 frames; throughput = 65,483 B / Mean), through a
/// struct sink and into one contiguous buffer; <c>NEEDS_CSUM</c> completion and receive validation of a 1500-byte frame.
/// </summary>
[MemoryDiagnoser]
public class OffloadBenchmarks
{
    /// <summary>The super-frame's TCP payload: 65535 − 20 (IPv4) − 32 (TCP).</summary>
    public const int SuperPayload = 65483;

    private byte[] _super = [];
    private byte[] _frame = [];
    private byte[] _partial = [];
    private byte[] _output = [];
    private int[] _lengths = [];
    private SegmentationRequest _request;

    /// <summary>A sink over one preallocated buffer; a struct passed by reference: no allocation, no dispatch.</summary>
    private struct BufferSink(byte[] buffer) : ISegmentSink
    {
        private int _at;

        public readonly Span<byte> GetBuffer(int index, int length) => buffer.AsSpan(_at);

        public void Complete(int index, int length) => _at += length;

        public readonly int Written => _at;
    }

    [GlobalSetup]
    public void Setup()
    {
        _super = OffloadFrames.TcpIPv4(SuperPayload);
        _frame = OffloadFrames.TcpIPv4(1500 - OffloadFrames.Header);
        _partial = (byte[])_frame.Clone();   // completed over and over: its field changes, the work does not
        _request = new SegmentationRequest(SegmentationKind.TcpV4, 1448, OffloadFrames.Header, headerLengthIsExact: true);
        if (SoftwareSegmentation.TryPlan(_super, _request, out SegmentationPlan plan) != OffloadError.None || plan.SegmentCount != 46)
        {
            throw new InvalidOperationException("bad benchmark frame");
        }

        _output = new byte[plan.TotalLength];
        _lengths = new int[plan.SegmentCount];
    }

    [Benchmark]
    public int Tso64KiBToSink()
    {
        var sink = new BufferSink(_output);
        SoftwareSegmentation.TrySegment(_super, _request, ref sink, out int count);
        return count + sink.Written;
    }

    [Benchmark]
    public int Tso64KiBContiguous()
    {
        SoftwareSegmentation.TrySegment(_super, _request, _output, _lengths, out int count);
        return count;
    }

    [Benchmark]
    public OffloadError CompleteChecksum1500() => ChecksumOffload.TryCompleteChecksum(_partial, OffloadFrames.L4, 16);

    [Benchmark]
    public bool ValidateReceived1500() => ChecksumOffload.ValidateReceived(_frame).IsDataValid;
}
