using VirtioRing.Net.Backends;
using VirtioRing.Net.Switching;

namespace VirtioRing.Tests.Net.Switching;

/// <summary>Guest ports on FakeHosts, and sending a frame from one.</summary>
internal static class SwitchGuests
{
    public static (NetSwitchPort Port, FakeHost Host)[] Guests(NetSwitch sw, int n)
    {
        var guests = new (NetSwitchPort, FakeHost)[n];
        for (int i = 0; i < n; i++)
        {
            NetSwitchPort port = sw.AddGuestPort("g" + i, null, 2);
            var host = new FakeHost();
            ((INetBackend)port).Attach(host);
            guests[i] = (port, host);
        }

        return guests;
    }

    public static NetTransmitStatus Send(NetSwitchPort port, byte[] frame, int queue = 0)
    {
        var backend = (INetBackend)port;
        NetTransmitStatus s = backend.Transmit(queue, NetFrame.FromSpan(default, frame));
        backend.FlushTransmit(queue);
        return s;
    }
}
