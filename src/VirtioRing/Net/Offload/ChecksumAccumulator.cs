using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VirtioRing.Net.Offload;

/// <summary>
/// An Internet checksum (RFC 1071) summed piece by piece: the pieces may have any lengths, odd ones included (a gather
/// list, the segments of a descriptor chain). A mutable value: keep it in a local and pass it by reference.
/// </summary>
/// <remarks>
/// A piece that starts at an odd offset of the whole is summed on its own and byte-swapped (RFC 1071 §2(B)), so each
/// piece still goes through the vectorised kernel. Values are big-endian words' numeric values, as in
/// <see cref="InternetChecksum"/>.
/// </remarks>
[DebuggerDisplay("length={Length} sum=0x{Sum,h}")]
[StructLayout(LayoutKind.Auto)]
public struct ChecksumAccumulator
{
    private ulong _sum;    // native-order end-around-carry accumulator

    /// <summary>Gets the number of bytes added so far (its parity decides how the next piece pairs up).</summary>
    public long Length { readonly get; private set; }

    /// <summary>Gets the folded ones'-complement sum of everything added so far.</summary>
    public readonly ushort Sum => ChecksumKernels.ToNetwork(ChecksumKernels.Fold(_sum));

    /// <summary>Gets the checksum of everything added so far: the complement of <see cref="Sum"/>.</summary>
    public readonly ushort Checksum => (ushort)~Sum;

    /// <summary>Adds the next piece of the data.</summary>
    /// <param name="data">The bytes that follow everything added so far.</param>
    public void Add(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        ulong piece = InternetChecksum.SumNative(data);
        if ((Length & 1) != 0)
        {
            // The piece starts at an odd offset: its bytes swap roles within each word.
            piece = BinaryPrimitives.ReverseEndianness(ChecksumKernels.Fold(piece));
        }

        _sum = ChecksumKernels.Add(_sum, piece);
        Length += data.Length;
    }

    /// <summary>
    /// Adds a sum computed elsewhere (a pseudo-header sum, say) as a whole number of even-aligned words; the byte count
    /// (<see cref="Length"/>) does not change.
    /// </summary>
    /// <param name="sum">The folded sum to add.</param>
    public void AddSum(ushort sum) => _sum = ChecksumKernels.Add(_sum, ChecksumKernels.FromNetwork(sum));

    /// <summary>Starts over.</summary>
    public void Reset()
    {
        _sum = 0;
        Length = 0;
    }
}
