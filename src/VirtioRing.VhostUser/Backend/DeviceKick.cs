using VirtioRing.Net.Backends;
using VirtioRing.Net.Engine;

namespace VirtioRing.VhostUser.Backend;

/// <summary>What a consumed kick eventfd turns into: <see cref="NetDevice.Kick"/> for its queue.</summary>
internal sealed class DeviceKick(NetDevice device, int index) : INotifier
{
    public void Notify() => device.Kick(index);
}
