namespace VirtioRing.Benchmarks.Linux;

/// <summary>An interface's kernel counters. For a TAP, "rx" is what its user (the guest side) wrote into the kernel, "tx" what the kernel handed to its reader (and "tx dropped" what the reader's queue had no room for).</summary>
/// <param name="RxPackets">rx_packets.</param>
/// <param name="RxBytes">rx_bytes.</param>
/// <param name="RxDropped">rx_dropped.</param>
/// <param name="TxPackets">tx_packets.</param>
/// <param name="TxBytes">tx_bytes.</param>
/// <param name="TxDropped">tx_dropped.</param>
internal readonly record struct LinkCounters(long RxPackets, long RxBytes, long RxDropped, long TxPackets, long TxBytes, long TxDropped);
