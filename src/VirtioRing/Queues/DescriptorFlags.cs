using System;

namespace VirtioRing.Queues;

/// <summary>Descriptor flags (virtio 1.2 §2.7.5 split, §2.8.1 packed). Direction is device-relative.</summary>
[Flags]
public enum DescriptorFlags : ushort
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary><c>VIRTQ_DESC_F_NEXT</c>: the chain continues (split: at <c>next</c>; packed: at the following slot).</summary>
    Next = 1,

    /// <summary><c>VIRTQ_DESC_F_WRITE</c>: the device writes this buffer (otherwise it only reads it).</summary>
    DeviceWritable = 2,

    /// <summary><c>VIRTQ_DESC_F_INDIRECT</c>: the buffer is a table of descriptors.</summary>
    Indirect = 4,

    /// <summary><c>VIRTQ_DESC_F_AVAIL</c> (packed only, bit 7).</summary>
    Available = 1 << 7,

    /// <summary><c>VIRTQ_DESC_F_USED</c> (packed only, bit 15).</summary>
    Used = 1 << 15,
}
