using System;
using System.Runtime.CompilerServices;
using VirtioRing.Queues;
using VirtioRing.Queues.Packed;
using VirtioRing.Queues.Split;

namespace VirtioRing.Benchmarks.Queues;

/// <summary>
/// The queue operations a round trip needs. Implemented by structs so that a generic method
/// constrained to <c>struct, IRingOps</c> is compiled once per adapter: the split and packed
/// adapters call the sealed classes directly (inlinable), the interface adapter goes through
/// <see cref="IDriverQueue"/>/<see cref="IDeviceQueue"/> as a layout-agnostic engine would.
/// </summary>
internal interface IRingOps
{
    bool TryAddChain(ReadOnlySpan<BufferSegment> segments, ulong token);

    int PublishAvailable();

    bool ShouldNotifyDevice();

    PopStatus TryPopAvailable(out DescriptorChain chain);

    void PushUsed(in DescriptorChain chain, uint written);

    int PublishUsed();

    bool ShouldNotifyDriver();

    PopStatus TryReclaimUsed(out UsedBuffer used);
}

internal readonly struct SplitOps(SplitDriverQueue driver, SplitDeviceQueue device) : IRingOps
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryAddChain(ReadOnlySpan<BufferSegment> segments, ulong token) => driver.TryAddChain(segments, token);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PublishAvailable() => driver.PublishAvailable();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ShouldNotifyDevice() => driver.ShouldNotifyDevice();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PopStatus TryPopAvailable(out DescriptorChain chain) => device.TryPopAvailable(out chain);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PushUsed(in DescriptorChain chain, uint written) => device.PushUsed(chain, written);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PublishUsed() => device.PublishUsed();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ShouldNotifyDriver() => device.ShouldNotifyDriver();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PopStatus TryReclaimUsed(out UsedBuffer used) => driver.TryReclaimUsed(out used);
}

internal readonly struct PackedOps(PackedDriverQueue driver, PackedDeviceQueue device) : IRingOps
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryAddChain(ReadOnlySpan<BufferSegment> segments, ulong token) => driver.TryAddChain(segments, token);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PublishAvailable() => driver.PublishAvailable();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ShouldNotifyDevice() => driver.ShouldNotifyDevice();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PopStatus TryPopAvailable(out DescriptorChain chain) => device.TryPopAvailable(out chain);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PushUsed(in DescriptorChain chain, uint written) => device.PushUsed(chain, written);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PublishUsed() => device.PublishUsed();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool ShouldNotifyDriver() => device.ShouldNotifyDriver();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PopStatus TryReclaimUsed(out UsedBuffer used) => driver.TryReclaimUsed(out used);
}

internal readonly struct InterfaceOps(IDriverQueue driver, IDeviceQueue device) : IRingOps
{
    public bool TryAddChain(ReadOnlySpan<BufferSegment> segments, ulong token) => driver.TryAddChain(segments, token);

    public int PublishAvailable() => driver.PublishAvailable();

    public bool ShouldNotifyDevice() => driver.ShouldNotifyDevice();

    public PopStatus TryPopAvailable(out DescriptorChain chain) => device.TryPopAvailable(out chain);

    public void PushUsed(in DescriptorChain chain, uint written) => device.PushUsed(chain, written);

    public int PublishUsed() => device.PublishUsed();

    public bool ShouldNotifyDriver() => device.ShouldNotifyDriver();

    public PopStatus TryReclaimUsed(out UsedBuffer used) => driver.TryReclaimUsed(out used);
}
