using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using VirtioRing.Net;
using VirtioRing.Net.Engine;
using VirtioRing.Net.InProcess;
using VirtioRing.Net.Switching;
using Xunit;

namespace VirtioRing.Tests.Net.Switching;

public sealed class NetSwitchMetricsTests
{
    [Fact]
    public void Meter_FramesBetweenTwoGuests_PublishedPerPortAndDirection()
    {
        string meterName = "VirtioRing.Tests.Switch." + Guid.NewGuid().ToString("N");
        using var lan = new NetSwitch(new NetSwitchOptions { MeterName = meterName });
        var macA = MacAddress.Parse("52:54:00:00:00:0a");
        var macB = MacAddress.Parse("52:54:00:00:00:0b");
        using var a = InProcessGuest.Create(lan.AddGuestPort("a"), new InProcessGuestOptions { Mac = macA, WorkerMode = NetWorkerMode.Manual });
        using var b = InProcessGuest.Create(lan.AddGuestPort("b"), new InProcessGuestOptions { Mac = macB, WorkerMode = NetWorkerMode.Manual });
        byte[] frame = new byte[100];
        macB.WriteTo(frame);
        macA.WriteTo(frame.AsSpan(6));
        frame[12] = 0x88;
        frame[13] = 0xb5;
        for (int i = 0; i < 3; i++)
        {
            Assert.True(a.Driver.TrySend(frame, default));
        }

        a.Device.GetPair(0).Poll(64);

        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == meterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = instrument.Name;
            foreach (KeyValuePair<string, object?> t in tags)
            {
                key += "|" + t.Key + "=" + t.Value;
            }

            seen[key] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(3, seen["virtio_net.switch.frames|port=a|direction=in"]);
        Assert.Equal(3, seen["virtio_net.switch.frames|port=b|direction=out"]);
        Assert.Equal(0, seen["virtio_net.switch.frames|port=b|direction=in"]);
        Assert.Equal(300, seen["virtio_net.switch.bytes|port=a|direction=in"]);
        Assert.Equal(0, seen["virtio_net.switch.drops|port=a|reason=no_route"]);
    }

    [Fact]
    public void Meter_NotAskedFor_IsNull()
    {
        using var lan = new NetSwitch();
        Assert.Null(lan.Meter);
    }
}
