using VirtioRing.Net.Backends;

namespace VirtioRing.Linux.Packet;

/// <summary>
/// A host firewall hook on a <see cref="PacketSocketBackend"/>. Frames a packet socket sends go straight to the
/// interface's driver and frames it receives are tapped before the host's IP stack, so neither passes the host's
/// firewall (netfilter/nftables): this filter is where the host can filter a guest's traffic on a directly attached
/// NIC. (The peer-guest switch has its own hook, <c>INetSwitchFilter</c>; this one has no ports to name, only the
/// direction and the backend queue.)
/// </summary>
/// <remarks>
/// <para>Called on the queue's worker thread (the queue pair's thread that drives the backend queue), for every frame
/// in both directions, before the frame is sent or delivered. It must be quick, must not block, must not keep the
/// frame, and must not throw (an exception propagates into the engine's worker).</para>
/// <para><b>A filter sees a private copy of what a guest sends.</b> A guest's frame lives in its own memory, which its
/// other vCPUs may rewrite at any time, so a check on those bytes would not hold for the bytes the kernel then reads.
/// While a filter is installed the backend therefore copies each transmitted frame once into a per-queue buffer,
/// inspects the copy and sends the copy (without a filter, frames go from guest memory to the kernel with no copy in
/// user space). Received frames are inspected where they lie in the receive ring (memory only this process and the
/// kernel see, and the kernel does not touch a block while user space owns it).</para>
/// </remarks>
public interface IPacketSocketFilter
{
    /// <summary>Decides whether a frame may pass.</summary>
    /// <param name="frame">The frame (Ethernet header onwards; its <see cref="NetFrame.Header"/> carries the offload state). Guest data on transmit: parse defensively.</param>
    /// <param name="direction">Which way the frame goes.</param>
    /// <param name="queue">The backend queue (the packet socket) it goes through.</param>
    /// <returns><see cref="PacketFilterVerdict.Accept"/> or <see cref="PacketFilterVerdict.Drop"/>.</returns>
    PacketFilterVerdict Inspect(in NetFrame frame, PacketDirection direction, int queue);
}
